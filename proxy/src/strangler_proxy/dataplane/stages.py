"""Which upstream answers a request, given its route's stage and, for a write, the owner of its data (the table is
in `app.py`'s docstring)."""

from __future__ import annotations

from typing import Final

from strangler_proxy.dataplane.cohort import bucket, in_canary, sticky_key
from strangler_proxy.dataplane.data_owners import SERVICE, DataOwners
from strangler_proxy.dataplane.model import SAFE_METHODS, Route, RouteTable, Stage
from strangler_proxy.dataplane.pinning import PinStore
from strangler_proxy.dataplane.routing import Router
from strangler_proxy.http.headers import Headers

DEFAULT_ROUTE = "default"  # the route label of requests no rule matched


class Decision:
    """Where a request goes: an immutable value (`Final` attributes), compared by value. A plain class, which mypyc
    compiles into a native one, not a `NamedTuple`: a named tuple is built by generated Python code (its `__new__`),
    and this is built for every request."""

    __slots__ = ("fallback", "mirror_to", "pin_key", "route", "route_label", "stage", "upstream")

    def __init__(
        self,
        route: Route | None,
        route_label: str,
        stage: str,
        upstream: str,
        fallback: str | None,  # where a safe request goes when `upstream` fails before answering
        mirror_to: str | None,
        pin_key: str | None,  # set for a write: pin this client to the upstream that took it (read-your-writes)
    ) -> None:
        self.route: Final = route
        self.route_label: Final = route_label
        self.stage: Final = stage
        self.upstream: Final = upstream
        self.fallback: Final = fallback
        self.mirror_to: Final = mirror_to
        self.pin_key: Final = pin_key

    def _fields(self) -> tuple[Route | None, str, str, str, str | None, str | None, str | None]:
        return (self.route, self.route_label, self.stage, self.upstream, self.fallback, self.mirror_to, self.pin_key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Decision) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return (
            "Decision(route={!r}, route_label={!r}, stage={!r}, upstream={!r}, fallback={!r}, mirror_to={!r}, "
            "pin_key={!r})".format(*self._fields())
        )


def decide(
    table: RouteTable,
    router: Router,
    pins: PinStore,
    method: str,
    path: str,
    headers: Headers,
    client_ip: str,
    owners: DataOwners | None = None,
) -> Decision:
    default = table.default_upstream  # below, `stage._value_`: the member's value without the `value` property's call
    match = router.match(method, path)
    if match is None:
        return Decision(None, DEFAULT_ROUTE, "default", default, None, None, None)
    route = match.route
    if method not in SAFE_METHODS:
        return _write(route, default, owners, headers, client_ip)
    stage = route.stage
    if stage is Stage.OFF:
        return Decision(route, route.path, stage._value_, default, None, None, None)
    if stage is Stage.SHADOW:
        mirror = route.service if route.service != default else None
        return Decision(route, route.path, stage._value_, default, None, mirror, None)
    if stage is Stage.LIVE:
        # Only a client whose write on this live route went to the monolith (it owns the data) reads there a while.
        if len(pins) and pins.pinned(route.service, sticky_key(route, headers, client_ip), live=True) == default:
            return _to_monolith(route, default)
        return _to_service(route, default)
    key = sticky_key(route, headers, client_ip)
    pinned = pins.pinned(route.service, key)
    if pinned is not None:
        return _to_monolith(route, default) if pinned == default else _to_service(route, default)
    if in_canary(bucket(key, route.service), route.percent):
        return _to_service(route, default)
    return _to_monolith(route, default)


def _to_service(route: Route, default: str) -> Decision:
    """A safe request on a canary or live route that the service answers."""
    # compare.shadow_monolith: what the service serves is mirrored back to the monolith, for the comparator.
    back = default if route.compare.shadow_monolith and route.service != default else None
    return Decision(route, route.path, route.stage._value_, route.service, default, back, None)


def _to_monolith(route: Route, default: str) -> Decision:
    """A safe request on a canary or live route that the monolith answers."""
    return Decision(route, route.path, route.stage._value_, default, None, None, None)


def _write(route: Route, default: str, owners: DataOwners | None, headers: Headers, client_ip: str) -> Decision:
    """An unsafe request goes to the side that owns the route's data when the proxy knows it (the data state the
    engine committed), never by a stage that disagrees; else by the stage: the service when live, else the monolith."""
    stage = route.stage
    owner = owners.get(route.data) if owners is not None and route.data is not None else None
    if owner is None:
        upstream = route.service if stage is Stage.LIVE else default
    else:
        upstream = route.service if owner == SERVICE else default
    mirror = None
    if stage is Stage.SHADOW and route.mirror_unsafe and upstream == default and route.service != default:
        mirror = route.service
    # A write pins its client to the side that took it, unless the route's reads go there anyway (live, service).
    # A write that went to the monolith pins on off and shadow routes too: a route raised to canary seconds later
    # must not send that client's reads to a service the sync has not reached yet.
    pin = None if stage is Stage.LIVE and upstream == route.service else sticky_key(route, headers, client_ip)
    return Decision(route, route.path, stage._value_, upstream, None, mirror, pin)
