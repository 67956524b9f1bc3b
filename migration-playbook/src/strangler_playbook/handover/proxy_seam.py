"""The seam between the engine and the proxy: everything a handover asks of the proxy, as one protocol.

Cutover, rollback and publish depend only on `ProxyControl` and the values below; `proxy_control.ProxyAdminControl`
implements it over the proxy's admin API (any other client of that API can take its place). Retire changes no route
and does not use it. Errors are the engine's own (`errors.py`): an implementation translates its transport's.
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

    def publish_data_state(self, routes: tuple[str, ...], state: DataState, *, owner: Owner) -> None:
        """Tell the proxy the data state backing `routes`; it refuses canary/live unless synced and verified."""
        ...

    def hold_writes(self, routes: tuple[str, ...], *, max_hold_s: float, max_queue: int) -> WriteHold:
        """Start holding unsafe requests on `routes` (safe ones keep flowing); bounded in time and queue.
        Returns once the writes already in flight are answered."""
        ...

    def release_writes(self, hold: WriteHold, *, to: Owner) -> Release:
        """Release the held requests (to the new owner, or back to the old one when aborting). A hold that expired
        already is not an error: its writes were refused with 503 and nothing was written."""
        ...

    def close(self) -> None: ...
