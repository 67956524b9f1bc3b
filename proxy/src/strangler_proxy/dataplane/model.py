"""The route table: what the data plane reads and the control plane writes — the contract between them.

A `RouteTable` is immutable. The control plane (route store, admin API, TOML apply) builds a new one
and swaps it in whole, so a request always sees one consistent version. Plain data only: the rules a table
obeys are `table_rules.py`, its JSON/TOML form is the control plane's `table_codec.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

DEFAULT_UPSTREAM = "monolith"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_COMPARED_HEADERS = ("content-type", "location")


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
class CompareSettings:
    """Per route: what the comparator ignores and compares, how often it learns noise, and the gate that rolls the
    route back (the comparison reads it; the data plane reads `shadow_monolith`)."""

    ignore: tuple[str, ...] = ()  # JSON paths never compared (wildcards: * and ..)
    headers: tuple[str, ...] = DEFAULT_COMPARED_HEADERS  # response headers compared
    noise_sample: float = 0.1  # share of safe requests the monolith is asked twice
    shadow_monolith: bool = False  # canary/live: mirror what the service served back to the monolith
    gate: bool = True  # the gate may roll this route back
    gate_min_samples: int = 100  # a gate never fires on fewer compared requests
    gate_window: int = 1000  # the last N compared requests count
    gate_max_diff_rate: float = 0.01  # net diff rate above this rolls the route back one stage
    gate_max_5xx_rate: float = 0.01  # the service's 5xx rate above this, likewise
    gate_max_p99_ratio: float = 2.0  # service p99 / monolith p99 above this, likewise (0: off)


DEFAULT_COMPARE = CompareSettings()


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
    compare: CompareSettings = DEFAULT_COMPARE  # comparator, noise and gate settings
    data: str | None = None  # the migration spec whose data backs this route: canary/live gated on it
    upstream_header: bool = False  # debugging: answers say which upstream served them (X-Strangler-Upstream)
    # The client's monolith credentials (Authorization, Cookie) reach the service only when the route opts in: a
    # service is told who the client is by the signed identity alone (docs/identity.md).
    forward_credentials: bool = False


@dataclass(frozen=True, slots=True)
class RouteTable:
    version: int
    upstreams: dict[str, Upstream]
    routes: tuple[Route, ...]
    default_upstream: str = DEFAULT_UPSTREAM


def route_label(route: Route) -> str:
    """How operators name a route: its path, and its methods when it has some (`/api/catalog [GET,HEAD]`)."""
    methods = f" [{','.join(sorted(route.methods))}]" if route.methods is not None else ""
    return f"{route.path}{methods}"


def stage_label(route: Route) -> str:
    """`canary 10%`, or the stage's name."""
    if route.stage is Stage.CANARY:
        return f"canary {route.percent}%"
    return route.stage.value
