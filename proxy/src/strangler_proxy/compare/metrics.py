"""Prometheus metrics of the comparator, registered in the data plane's registry (served at the admin /metrics).

strangler_compare_requests_total{route,outcome}        equal / noise_only / differ / skipped_queue_full / skipped_rate /
                                                        mirror_failed
strangler_compare_field_diffs_total{route,field,count}  count = raw | net (fields bounded per route)
strangler_compare_noise_samples_total{route}            monolith asked twice
strangler_compare_5xx_total{route,side}                 side = monolith | service
strangler_compare_seconds{route,side}                   histogram of each side's answer time
strangler_compare_net_diff_rate{route}                  net diff rate since start
strangler_compare_gate_stale_samples_total{route}      compared, but routed under another revision of the route:
                                                        kept out of its gate
strangler_compare_gate_firings_total{route,outcome}    outcome = rolled_back / held / moved / failed
strangler_compare_gate_rollbacks_total{route}
strangler_compare_mismatches_stored_total{route}        and dropped (writer queue full): ..._dropped_total
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class CompareMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry or CollectorRegistry()
        self.registry = r
        self.requests = Counter(
            "strangler_compare_requests", "Compared requests by outcome", ["route", "outcome"], registry=r
        )
        self.field_diffs = Counter(
            "strangler_compare_field_diffs", "Differences per field", ["route", "field", "count"], registry=r
        )
        self.noise_samples = Counter(
            "strangler_compare_noise_samples", "Requests sent to the monolith twice", ["route"], registry=r
        )
        self.errors = Counter(
            "strangler_compare_5xx", "5xx answers among compared requests", ["route", "side"], registry=r
        )
        self.seconds = Histogram(
            "strangler_compare_seconds", "Answer time per side", ["route", "side"], buckets=BUCKETS, registry=r
        )
        self.net_diff_rate = Gauge(
            "strangler_compare_net_diff_rate", "Net diff rate since start", ["route"], registry=r
        )
        self.stale_samples = Counter(
            "strangler_compare_gate_stale_samples",
            "Compared requests routed under another revision of their route (no evidence for its gate)",
            ["route"],
            registry=r,
        )
        self.firings = Counter(
            "strangler_compare_gate_firings", "Gate firings by what became of them", ["route", "outcome"], registry=r
        )
        self.rollbacks = Counter(
            "strangler_compare_gate_rollbacks", "Routes rolled back one stage by their gate", ["route"], registry=r
        )
        self.stored = Counter("strangler_compare_mismatches_stored", "Mismatches stored", ["route"], registry=r)
        self.dropped = Counter(
            "strangler_compare_mismatches_dropped",
            "Mismatches not stored (writer busy or store down)",
            ["route"],
            registry=r,
        )
