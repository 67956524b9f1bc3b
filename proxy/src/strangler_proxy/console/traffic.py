"""Recent traffic per route and upstream, from the data plane's own Prometheus counters sampled once a second.

The console keeps the last ten minutes of samples (cumulative counters) and answers with differences between
them: requests a second, the share of 5xx answers, p50/p99 from the latency histogram's buckets (interpolated
within a bucket, as Prometheus' histogram_quantile does), and which side answered (monolith, service, or the
monolith as a fallback for a failed service). Nothing is added to the hot path: the data plane counts anyway.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

KEEP_SECONDS = 600
REQUESTS = "strangler_proxy_requests"
LATENCY = "strangler_proxy_request_duration_seconds"
FALLBACKS = "strangler_proxy_fallbacks"


@dataclass
class Sample:
    at: float
    counts: dict[tuple[str, str, str], float] = field(default_factory=dict)  # (route, upstream, class) -> total
    buckets: dict[tuple[str, str], list[tuple[float, float]]] = field(default_factory=dict)  # cumulative (le, n)
    fallbacks: dict[str, float] = field(default_factory=dict)


def parse(text: str, at: float) -> Sample:
    sample = Sample(at)
    for family in text_string_to_metric_families(text):
        if family.name == REQUESTS:
            for s in family.samples:
                if s.name.endswith("_total"):
                    key = (s.labels["route"], s.labels["upstream"], s.labels["status_class"])
                    sample.counts[key] = sample.counts.get(key, 0.0) + s.value
        elif family.name == LATENCY:
            for s in family.samples:
                if s.name.endswith("_bucket"):
                    pair = (s.labels["route"], s.labels["upstream"])
                    sample.buckets.setdefault(pair, []).append((float(s.labels["le"]), s.value))
        elif family.name == FALLBACKS:
            for s in family.samples:
                if s.name.endswith("_total"):
                    sample.fallbacks[s.labels["route"]] = s.value
    return sample


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """The q-quantile of a cumulative histogram (sorted by bound), or None when it counted nothing."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            inside = count - lower_count
            return lower_bound + (bound - lower_bound) * ((rank - lower_count) / inside if inside else 1.0)
        lower_bound, lower_count = bound, count
    return lower_bound


class TrafficHistory:
    def __init__(self, metrics: Callable[[], tuple[bytes, str]] | None, keep: float = KEEP_SECONDS) -> None:
        self._metrics = metrics
        self.samples: deque[Sample] = deque(maxlen=int(keep) + 1)

    def sample(self) -> None:
        if self._metrics is None:
            return
        body, _ = self._metrics()
        self.samples.append(parse(body.decode(), time.monotonic()))

    def _at(self, ago: float) -> Sample | None:
        """The newest sample at least `ago` seconds old (the oldest there is, if none is that old)."""
        if not self.samples:
            return None
        cutoff = self.samples[-1].at - ago
        chosen = self.samples[0]
        for s in self.samples:
            if s.at > cutoff:
                break
            chosen = s
        return chosen

    def split(self, route: str, monolith: str, seconds: float = 10.0) -> dict[str, Any]:
        """Who answered `route` in the last `seconds`: requests a second and the shares of the monolith, the
        service(s) and fallbacks (the monolith answering for a failed service), and the 5xx share."""
        if len(self.samples) < 2:
            return {"rps": 0.0, "requests": 0, "monolith": 0.0, "service": 0.0, "fallback": 0.0, "errors": 0.0}
        new, old = self.samples[-1], self._at(seconds)
        assert old is not None
        dt = max(new.at - old.at, 1e-9)
        by_side = {"monolith": 0.0, "service": 0.0}
        errors = 0.0
        for (r, upstream, cls), total in new.counts.items():
            if r != route:
                continue
            delta = total - old.counts.get((r, upstream, cls), 0.0)
            if upstream != "proxy":  # the proxy's own answers (held, refused) were served by neither side
                by_side["monolith" if upstream == monolith else "service"] += delta
            if cls == "5xx":
                errors += delta
        fallback = new.fallbacks.get(route, 0.0) - old.fallbacks.get(route, 0.0)
        by_side["monolith"] = max(0.0, by_side["monolith"] - fallback)
        total = by_side["monolith"] + by_side["service"] + fallback

        def share(n: float) -> float:
            return n / total if total else 0.0

        return {
            "rps": round(total / dt, 2),
            "requests": int(total),
            "monolith": round(share(by_side["monolith"]), 4),
            "service": round(share(by_side["service"]), 4),
            "fallback": round(share(fallback), 4),
            "errors": round(share(errors), 4),
        }

    def series(self, route: str, *, minutes: float = 5.0, step: float = 10.0) -> dict[str, Any]:
        """Per upstream of `route`, one point per `step` seconds over the last `minutes`: requests a second, 5xx
        share, p50 and p99 in milliseconds (None where nothing was answered)."""
        points = int(minutes * 60 / step)
        if len(self.samples) < 2:
            return {"step": step, "points": points, "upstreams": {}}
        edges = [self._at((points - i) * step) for i in range(points + 1)]
        upstreams = sorted({u for (r, u, _) in self.samples[-1].counts if r == route})
        out: dict[str, Any] = {}
        for upstream in upstreams:
            rows: dict[str, list[float | None]] = {"rate": [], "error_rate": [], "p50_ms": [], "p99_ms": []}
            for old, new in itertools.pairwise(edges):
                assert old is not None and new is not None
                count = errors = 0.0
                for (r, u, cls), total in new.counts.items():
                    if r == route and u == upstream:
                        delta = total - old.counts.get((r, u, cls), 0.0)
                        count += delta
                        errors += delta if cls == "5xx" else 0.0
                dt = new.at - old.at
                rows["rate"].append(round(count / dt, 2) if dt > 0 else None)
                rows["error_rate"].append(round(errors / count, 4) if count else None)
                delta_buckets = _delta(new.buckets.get((route, upstream), []), old.buckets.get((route, upstream), []))
                for name, q in (("p50_ms", 0.5), ("p99_ms", 0.99)):
                    value = quantile(q, delta_buckets)
                    rows[name].append(round(value * 1000, 2) if value is not None else None)
            out[upstream] = rows
        return {"step": step, "points": points, "upstreams": out}


def _delta(new: list[tuple[float, float]], old: list[tuple[float, float]]) -> list[tuple[float, float]]:
    before = dict(old)
    return sorted((bound, count - before.get(bound, 0.0)) for bound, count in new)
