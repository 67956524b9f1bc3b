"""Noise cancellation in the manner of Diffy, and the per-field tally a parity report is made of.

For a sample of safe requests the monolith is asked twice. A field that differs between two answers of the
monolith itself (a timestamp, a random token, an ordering that is not stable) is noise: a difference there says
nothing about the service. Per route and field (array indexes written `[*]`) the tally keeps:

* raw   — compared requests where the service's answer differed from the monolith's on that field;
* noise — noise samples where the monolith's two answers differed on that field;
* net   — raw differences counted against the service: those on fields not (yet) known as noise.

A field is noise once it differed in a noise sample and its raw diff rate is not clearly above its noise rate
(at most `NOISE_MARGIN` times it): a field the monolith changes now and then (a stock count under concurrent
writes) but the service gets wrong on every request is still counted. The first `WARM_UP` safe requests of a
route are always noise-sampled, so a field that differs on every call is learned before it can be counted.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

WARM_UP = 10
NOISE_MARGIN = 2.0
MAX_FIELDS = 2000  # per route: paths come from response bodies, so keep the tally bounded


@dataclass(slots=True)
class FieldTally:
    raw: int = 0
    noise: int = 0
    net: int = 0


@dataclass(slots=True)
class RouteTally:
    compared: int = 0
    noise_samples: int = 0
    net_diffs: int = 0  # compared requests with at least one net difference
    fields: dict[str, FieldTally] = field(default_factory=dict)

    def _field(self, name: str) -> FieldTally | None:
        tally = self.fields.get(name)
        if tally is None and len(self.fields) < MAX_FIELDS:
            tally = self.fields[name] = FieldTally()
        return tally

    def is_noise(self, name: str) -> bool:
        tally = self.fields.get(name)
        if tally is None or tally.noise == 0 or self.noise_samples == 0:
            return False
        noise_rate = tally.noise / self.noise_samples
        raw_rate = tally.raw / self.compared if self.compared else 0.0
        return raw_rate <= noise_rate * NOISE_MARGIN


class NoiseModel:
    def __init__(self, *, rng: random.Random | None = None) -> None:
        self.routes: dict[str, RouteTally] = {}
        self._rng = rng or random.Random()

    def route(self, name: str) -> RouteTally:
        tally = self.routes.get(name)
        if tally is None:
            tally = self.routes[name] = RouteTally()
        return tally

    def wants_sample(self, route: str, rate: float) -> bool:
        """Should this (safe) request be sent to the monolith a second time?"""
        if rate <= 0:
            return False
        return self.route(route).noise_samples < WARM_UP or self._rng.random() < rate

    def learn(self, route: str, noisy_fields: Iterable[str]) -> None:
        """Record one noise sample: the fields where the monolith's two answers differed."""
        tally = self.route(route)
        tally.noise_samples += 1
        for name in set(noisy_fields):
            f = tally._field(name)
            if f is not None:
                f.noise += 1

    def classify(self, route: str, differing_fields: Iterable[str]) -> list[str]:
        """Record one comparison; return the fields whose difference counts against the service (net)."""
        tally = self.route(route)
        tally.compared += 1
        names = set(differing_fields)
        for name in names:
            f = tally._field(name)
            if f is not None:
                f.raw += 1
        net = sorted(name for name in names if not tally.is_noise(name))
        for name in net:
            f = tally.fields.get(name)
            if f is not None:
                f.net += 1
        if net:
            tally.net_diffs += 1
        return net

    def report(self, route: str) -> list[FieldReport]:
        """Per field: raw, noise, net and whether it counts as noise now; most net differences first."""
        tally = self.routes.get(route)
        if tally is None:
            return []
        rows = [FieldReport(name, f.raw, f.noise, f.net, tally.is_noise(name)) for name, f in tally.fields.items()]
        rows.sort(key=lambda r: (-r.net, -r.raw, r.field))
        return rows


@dataclass(frozen=True, slots=True)
class FieldReport:
    field: str
    raw: int
    noise: int
    net: int
    is_noise: bool
