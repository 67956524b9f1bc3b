"""The seam between the engine and the proxy: everything a handover asks of the proxy, as one protocol.

Cutover, rollback and publish depend only on `ProxyControl` and the values below; `proxy_control.ProxyAdminControl`
implements it over the proxy's admin API (any other client of that API can take its place). Retire changes no route
and does not use it. Errors are the engine's own (`errors.py`): an implementation translates its transport's.

What a handover relies on (the proxy's side of the invariant in runbooks/catalog.md): the proxy sends a data
route's writes to the owner it was told (`data_owner`); it accepts a new owner only under live holds covering the
routes (`publish_data_state(..., fence=hold)`), so that change is the handover's one commit point; a hold is a lease
its holder renews (`renew_writes`), and when it ends, however, its writes go on to the owner of that moment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Owner = Literal["monolith", "service"]


@dataclass(frozen=True)
class DataState:
    """What the proxy needs to gate a route's stage on its data (published after every sync/verify)."""

    spec: str
    phase: str
    lag_s: float | None
    last_verify_clean: bool | None
    verified_at: str | None = None


@dataclass(frozen=True)
class RouteInfo:
    """One route of the proxy's table, as much of it as a handover reads."""

    path: str
    stage: str  # off, shadow, canary, live (or retired)
    percent: int
    data: str | None  # the spec whose data the route declares it stands on


@dataclass(frozen=True)
class WriteHold:
    hold_id: str  # one id per held route, comma-joined
    routes: tuple[str, ...]
    max_hold_s: float
    held_for_s: float = 0.0  # how long writes had been held when the proxy answered (its wait for those in flight)

    @property
    def ids(self) -> list[str]:
        return [i for i in self.hold_id.split(",") if i]


@dataclass(frozen=True)
class Release:
    """What releasing a hold let go: how many held requests, and how long they waited (the proxy's own measure)."""

    released: int = 0
    waits: dict[str, Any] = field(default_factory=dict)


class ProxyControl(Protocol):
    def route(self, path: str) -> RouteInfo:
        """The route at `path` for every method; `StateError` naming the command to add it when there is none."""
        ...

    def set_stage(self, path: str, stage: str, *, percent: int, data: str, reason: str) -> None:
        """Move the route to `stage` (`percent` for canary), declaring it stands on spec `data`; audited with
        `reason`."""
        ...

    def data_owner(self, spec: str) -> Owner | None:
        """The owner of `spec`'s data the proxy believes (and sends its routes' writes to); None: no report yet."""
        ...

    def publish_data_state(
        self, routes: tuple[str, ...], state: DataState, *, owner: Owner, fence: WriteHold | None = None
    ) -> None:
        """Tell the proxy the data state backing `routes`; it refuses canary/live unless synced and verified. A new
        `owner` is accepted only with `fence`, this run's live hold over every route (else `ProxyRefused` with code
        `holds_not_in_place`, nothing changed): that is a handover's commit point."""
        ...

    def hold_writes(
        self,
        routes: tuple[str, ...],
        *,
        max_hold_s: float,
        max_queue: int,
        holder: str,
        lease_s: float,
        settle_s: float = 0.0,
    ) -> WriteHold:
        """Start holding unsafe requests on `routes` (safe ones keep flowing) for `holder`, while it renews the hold
        within `lease_s` and for `max_hold_s` at most; at most `max_queue` wait. Returns once the writes already in
        flight are answered. `settle_s`: the proxy first waits up to that long, writes flowing, for a moment with
        none in flight on the first route, and holds from then (`WriteHold.held_for_s` says how long it held)."""
        ...

    def renew_writes(self, hold: WriteHold) -> bool:
        """The holder is alive: each hold's lease runs again. False when one of them has ended. Called from the
        run's lease keeper, a thread of its own."""
        ...

    def holds_of(self, holder: str) -> WriteHold:
        """The active holds whose holder starts with `holder` (a dead run's, even one its journal never recorded)."""
        ...

    def release_writes(self, hold: WriteHold, *, to: Owner) -> Release:
        """Release the held requests: they go on to the owner the proxy holds (`to` is the caller's intent). A hold
        that ended already is not an error: its writes went on to the owner when it ended."""
        ...

    def finish(self, hold: WriteHold, *, stages: dict[str, tuple[str, int]], data: str, reason: str) -> Release:
        """The hold's last call, one round trip: each route of `stages` moved to its (stage, percent) declaring spec
        `data`, audited with `reason`, while the writes are still held (a route there already is left alone), then the
        held requests released to the owner the proxy holds. Safe to repeat: a hold that ended already is not an
        error, and routes at their stage do not change again."""
        ...

    def close(self) -> None: ...
