"""The seam benchmarks' measuring loop: one sample timed with the data's owner recorded as the monolith, then as the
service, alternately (so both sides see the same machine), after one warm-up each; p50/p90/mean per side and the
ratio of the p50s. Runs inside a configured Django process (the monolith's `ownership` app)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def compare_owners(spec: str, sample: Callable[[], None], count: int, *, remote: str) -> dict[str, Any]:
    """`count` alternating rounds of `sample`, local (the monolith owns `spec`) and `remote` (the service owns it)."""
    from ownership import services as ownership_services
    from ownership.selectors import Owner

    timings: dict[str, list[float]] = {"local": [], remote: []}
    sides = {"local": Owner.MONOLITH, remote: Owner.SERVICE}
    for owner in sides.values():  # warm up: connections, caches
        ownership_services.data_owner_record(spec=spec, owner=owner)
        sample()
    for _ in range(count):
        for side, owner in sides.items():
            ownership_services.data_owner_record(spec=spec, owner=owner)
            started = time.perf_counter()
            sample()
            timings[side].append((time.perf_counter() - started) * 1000)
    figures = {side: summary(values) for side, values in timings.items()}
    return {**figures, "ratio_p50": round(figures[remote]["p50_ms"] / figures["local"]["p50_ms"], 2)}


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered), 3),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
    }
