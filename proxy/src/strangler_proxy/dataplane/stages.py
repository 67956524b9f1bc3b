"""Which upstream answers a request, given its route's stage (the table is in `app.py`'s docstring)."""

from __future__ import annotations

from typing import NamedTuple

from strangler_proxy.dataplane.cohort import bucket, in_canary, sticky_key
from strangler_proxy.dataplane.model import SAFE_METHODS, Route, RouteTable, Stage
from strangler_proxy.dataplane.pinning import PinStore
from strangler_proxy.dataplane.routing import Router
from strangler_proxy.http.headers import Headers

DEFAULT_ROUTE = "default"  # the route label of requests no rule matched


class Decision(NamedTuple):
    route: Route | None
    route_label: str
    stage: str
    upstream: str
    fallback: str | None  # where a safe request goes when `upstream` fails before answering
    mirror_to: str | None
    pin_key: str | None  # set for an unsafe request that goes to the monolith: pin this client after it


def decide(
    table: RouteTable, router: Router, pins: PinStore, method: str, path: str, headers: Headers, client_ip: str
) -> Decision:
    default = table.default_upstream
    match = router.match(method, path)
    if match is None:
        return Decision(None, DEFAULT_ROUTE, "default", default, None, None, None)
    route = match.route
    safe = method in SAFE_METHODS
    stage = route.stage
    # A write that went to the monolith pins its client on off and shadow routes too: a route raised to canary
    # seconds later must not send that client's reads to a service the sync has not reached yet.
    pin = None if safe or stage is Stage.LIVE else sticky_key(route, headers, client_ip)
    if stage is Stage.OFF:
        return Decision(route, route.path, stage.value, default, None, None, pin)
    if stage is Stage.SHADOW:
        mirror = route.service if (safe or route.mirror_unsafe) and route.service != default else None
        return Decision(route, route.path, stage.value, default, None, mirror, pin)
    # compare.shadow_monolith: what the service serves is mirrored back to the monolith, for the comparator.
    back = default if safe and route.compare.shadow_monolith and route.service != default else None
    if stage is Stage.LIVE:
        return Decision(route, route.path, stage.value, route.service, default if safe else None, back, None)
    if not safe:
        return Decision(route, route.path, stage.value, default, None, None, pin)
    key = sticky_key(route, headers, client_ip)
    if pins.pinned(route.service, key) or not in_canary(bucket(key, route.service), route.percent):
        return Decision(route, route.path, stage.value, default, None, None, None)
    return Decision(route, route.path, stage.value, route.service, default, back, None)
