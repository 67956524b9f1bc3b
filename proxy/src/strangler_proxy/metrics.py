"""Prometheus metrics of the data plane, in a registry of its own that the admin listener serves at /metrics.

strangler_proxy_requests_total{route,stage,upstream,status_class}
strangler_proxy_request_duration_seconds{route,upstream}     histogram, whole request incl. body streaming
strangler_proxy_upstream_errors_total{upstream,error}          refused / timeout / broken / overloaded / circuit
strangler_proxy_retries_total{upstream}
strangler_proxy_fallbacks_total{route}                         service down → monolith (safe requests only)
strangler_proxy_shadow_total{route,outcome}                    mirrored / dropped_queue_full / skipped_body_too_large
                                                               / completed / failed
strangler_proxy_breaker_state{upstream}                        0 closed, 1 half-open, 2 open
strangler_proxy_route_table_version
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

CONTENT_TYPE = CONTENT_TYPE_LATEST
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ProxyMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._requests = Counter(
            "strangler_proxy_requests", "Requests answered", ["route", "stage", "upstream", "status_class"], registry=r
        )
        self._latency = Histogram(
            "strangler_proxy_request_duration_seconds",
            "Time from request head to the last response byte",
            ["route", "upstream"],
            buckets=_BUCKETS,
            registry=r,
        )
        self._upstream_errors = Counter(
            "strangler_proxy_upstream_errors", "Transport failures per upstream", ["upstream", "error"], registry=r
        )
        self._retries = Counter("strangler_proxy_retries", "Retried attempts", ["upstream"], registry=r)
        self._fallbacks = Counter(
            "strangler_proxy_fallbacks",
            "Safe requests served by the monolith because the service failed",
            ["route"],
            registry=r,
        )
        self._shadow = Counter(
            "strangler_proxy_shadow", "Mirrored requests by outcome", ["route", "outcome"], registry=r
        )
        self._breaker = Gauge(
            "strangler_proxy_breaker_state", "0 closed, 1 half-open, 2 open", ["upstream"], registry=r
        )
        self.table_version = Gauge("strangler_proxy_route_table_version", "Version of the live route table", registry=r)
        self._children: dict[tuple[str, ...], tuple[Counter, Histogram]] = {}

    def observe(self, route: str, stage: str, upstream: str, status: int, seconds: float) -> None:
        key = (route, stage, upstream, str(status // 100))
        children = self._children.get(key)
        if children is None:
            children = (
                self._requests.labels(route, stage, upstream, f"{status // 100}xx"),
                self._latency.labels(route, upstream),
            )
            if len(self._children) < 10_000:
                self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def upstream_error(self, upstream: str, error: str) -> None:
        self._upstream_errors.labels(upstream, error).inc()

    def retry(self, upstream: str) -> None:
        self._retries.labels(upstream).inc()

    def fallback(self, route: str) -> None:
        self._fallbacks.labels(route).inc()

    def shadow(self, route: str, outcome: str) -> None:
        self._shadow.labels(route, outcome).inc()

    def breaker_state(self, upstream: str, state: int) -> None:
        self._breaker.labels(upstream).set(state)

    def text(self) -> bytes:
        return generate_latest(self.registry)
