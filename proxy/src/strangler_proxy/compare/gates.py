"""Gates: per-route thresholds on compared requests that roll a `canary` or `live` route back one stage.

With replicas on a shared store, each replica's samples are exchanged (`SharedEvidence`, about every half second):
a window holds the samples of every replica taken under the same route content (`fingerprint`), so a gate judges
the route's whole traffic, not one replica's share of it.

Each compared request of a route is one sample: did it differ (net of noise), did the service answer 5xx, how
long did each side take. A route keeps its last `gate_window` samples (collected in its current stage); once it
holds at least `gate_min_samples` — never before, so a handful of unlucky requests cannot move a route — the gate
fires when any of these is above the route's bound:

* net diff rate (requests with a net difference / samples)      > gate_max_diff_rate
* service 5xx rate                                               > gate_max_5xx_rate
* service p99 / monolith p99 (each at least 5 ms)                > gate_max_p99_ratio (0 turns it off)

A sample counts only for the route revision it was taken under (`ProxyApp.route_revision`: any change to the
route, its stage or its share, starts a new one): a window belongs to one revision, so every stage starts a fresh
window, and a mirror taken in `shadow` but compared after the move to `canary` is no evidence about the canary.

A firing verdict is handed to whoever wired the comparator (`strangler proxy` rolls the route back ONE stage
through the route store, as an operator would, unless the data state forbids the move, and keeps the firing: the
control plane's `route_changes.gate_rollback` and `gate_firings`), which answers with a `GateOutcome` that the
comparator counts (`strangler_compare_gate_firings_total`) and logs.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from strangler_proxy.dataplane.model import CompareSettings, Route, RouteTable, Stage, route_label, stage_label

P99_FLOOR = 0.005  # seconds: both p99s are raised to this before their ratio is taken


@dataclass(frozen=True, slots=True)
class Sample:
    net_diff: bool
    service_5xx: bool
    monolith_seconds: float
    service_seconds: float


@dataclass(frozen=True, slots=True)
class Verdict:
    samples: int
    diff_rate: float
    error_rate: float
    p99_ratio: float
    reasons: tuple[str, ...]  # empty: the gate holds
    stage: str = ""  # the stage every sample was taken in (`canary 10%`)
    revision: int = 0  # ... and the route's revision then

    @property
    def fires(self) -> bool:
        return bool(self.reasons)


@dataclass(frozen=True, slots=True)
class GateOutcome:
    """What became of a firing verdict: `rolled_back` (the route moved one stage back: `table` is the new one),
    `held` (the move would break the data state: nothing moved, `detail` says what to run), `moved` (the route
    changed meanwhile: nothing to do), `failed` (the store refused or could not be reached)."""

    action: str
    detail: str
    table: RouteTable | None = None


@dataclass(frozen=True, slots=True)
class SharedSample:
    """A sample as replicas exchange it: the route's label and the fingerprint of the route it was taken under."""

    route: str
    fingerprint: str
    sample: Sample


class SharedEvidence(Protocol):
    """Samples every replica sees (`control/shared_gates.py`): blocking, called from a worker thread."""

    def exchange(self, mine: Sequence[SharedSample]) -> list[SharedSample]:
        """Store `mine`; return the other replicas' samples stored since the last call."""
        ...


def fingerprint(route: Route) -> str:
    """The same on every replica for the same route content (a revision number is each replica's own)."""
    return hashlib.sha1(repr(route).encode(), usedforsecurity=False).hexdigest()[:16]


class GateWindow:
    def __init__(self, stage: str, revision: int, size: int) -> None:
        self.stage = stage
        self.revision = revision
        self.samples: deque[Sample] = deque(maxlen=size)

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)

    def evaluate(self, settings: CompareSettings) -> Verdict | None:
        """None while there are fewer than `gate_min_samples` samples."""
        n = len(self.samples)
        if n < settings.gate_min_samples:
            return None
        diff_rate = sum(s.net_diff for s in self.samples) / n
        error_rate = sum(s.service_5xx for s in self.samples) / n
        monolith_p99 = percentile([s.monolith_seconds for s in self.samples], 0.99)
        service_p99 = percentile([s.service_seconds for s in self.samples], 0.99)
        # Below P99_FLOOR, timing jitter (a GC pause, a busy core) decides a ratio; it says nothing about the service.
        ratio = max(service_p99, P99_FLOOR) / max(monolith_p99, P99_FLOOR)
        reasons = []
        if diff_rate > settings.gate_max_diff_rate:
            reasons.append(f"net diff rate {diff_rate:.1%} > {settings.gate_max_diff_rate:.1%}")
        if error_rate > settings.gate_max_5xx_rate:
            reasons.append(f"service 5xx rate {error_rate:.1%} > {settings.gate_max_5xx_rate:.1%}")
        if settings.gate_max_p99_ratio > 0 and ratio > settings.gate_max_p99_ratio:
            reasons.append(
                f"service p99 {service_p99 * 1000:.1f} ms is {ratio:.2f}x the monolith's {monolith_p99 * 1000:.1f} ms"
                f" > {settings.gate_max_p99_ratio:g}x"
            )
        return Verdict(n, diff_rate, error_rate, ratio, tuple(reasons), self.stage, self.revision)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Gates:
    """Windows per route; `observe` returns a firing verdict at most once per window (then the window restarts)."""

    def __init__(self) -> None:
        self.windows: dict[str, GateWindow] = {}
        self.outbox: list[SharedSample] = []  # with shared evidence: this replica's samples, not yet exchanged
        self.sharing = False

    def observe(self, route: Route, revision: int, sample: Sample) -> Verdict | None:
        """`sample` was taken under `revision` of `route` (the caller drops samples of any other revision)."""
        if self.sharing and route.compare.gate and route.stage in (Stage.CANARY, Stage.LIVE):
            self.outbox.append(SharedSample(route_label(route), fingerprint(route), sample))
        return self._add(route, revision, sample)

    def absorb(self, route: Route, revision: int, shared: SharedSample) -> Verdict | None:
        """Another replica's sample: counted only if it was taken under the route as it is here now."""
        if shared.fingerprint != fingerprint(route):
            return None
        return self._add(route, revision, shared.sample)

    def _add(self, route: Route, revision: int, sample: Sample) -> Verdict | None:
        settings = route.compare
        if not settings.gate or route.stage not in (Stage.CANARY, Stage.LIVE):
            self.windows.pop(route_label(route), None)
            return None
        key = route_label(route)
        window = self.windows.get(key)
        if window is None or window.revision != revision or window.samples.maxlen != settings.gate_window:
            window = self.windows[key] = GateWindow(stage_label(route), revision, settings.gate_window)
        window.add(sample)
        verdict = window.evaluate(settings)
        if verdict is None or not verdict.fires:
            return None
        del self.windows[key]
        return verdict

    def status(self) -> dict[str, dict[str, object]]:
        windows = self.windows.items()
        return {k: {"stage": w.stage, "revision": w.revision, "samples": len(w.samples)} for k, w in windows}
