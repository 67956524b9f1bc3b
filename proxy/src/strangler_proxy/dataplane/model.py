"""The route table: what the data plane reads and the control plane writes.

A `RouteTable` is immutable. The control plane (route store, admin API, TOML apply) builds a new one
and swaps it in whole, so a request always sees one consistent version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from strangler_proxy.compare_settings import DEFAULT_COMPARE, CompareSettings

DEFAULT_UPSTREAM = "monolith"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Stage(StrEnum):
    OFF = "off"  # the monolith answers
    SHADOW = "shadow"  # the monolith answers; safe requests mirrored to the service
    CANARY = "canary"  # `percent`% of safe requests to the service, sticky; unsafe to the monolith
    LIVE = "live"  # the service answers everything


@dataclass(frozen=True, slots=True)
class Upstream:
    name: str
    url: str  # scheme://host:port, no path
    connect_timeout: float = 1.0
    read_timeout: float = 30.0
    max_connections: int = 256
    max_pending: int = 1024
    health_path: str = "/healthz"


@dataclass(frozen=True, slots=True)
class StickyKey:
    """What a canary cohort is keyed on: a cookie, a header, or the client's address."""

    kind: Literal["cookie", "header", "client"] = "client"
    name: str = ""


@dataclass(frozen=True, slots=True)
class Route:
    path: str  # segment prefix, may hold parameters: /api/orders/{id}/reviews
    service: str  # the upstream that this route is moving to
    stage: Stage = Stage.OFF
    percent: int = 0  # canary share, 0..100
    methods: frozenset[str] | None = None  # None: every method
    sticky: StickyKey = field(default_factory=StickyKey)
    mirror_unsafe: bool = False  # shadow mirrors unsafe methods only when the route opts in
    pin_seconds: float = 5.0  # read-your-writes: after an unsafe request, pin the client to the monolith
    compare: CompareSettings = DEFAULT_COMPARE  # comparator, noise and gate settings (compare_settings.py)
    data: str | None = None  # the migration spec whose data backs this route: canary/live gated on it (data_state.py)


@dataclass(frozen=True, slots=True)
class RouteTable:
    version: int
    upstreams: dict[str, Upstream]
    routes: tuple[Route, ...]
    default_upstream: str = DEFAULT_UPSTREAM
