"""The seam between the engine and the proxy for cutover, rollback and retire. The engine depends only on this
protocol; `proxy_control.ProxyAdminControl` implements it over the admin API, `handover.py` drives it.

Cutover, as the engine will drive it (any failure → `release_writes(to="monolith")` and the previous stage):
1. `data_gate(...)` says the data is synced and verified; `hold_writes(routes, max_hold_s)` starts holding;
2. drain the forward sync to zero pending, verify the held tables, realign the service's sequences;
3. flip the system of record, start the reverse sync (service → monolith) from a fresh start position;
4. `set_stage(route, "live")`, then `release_writes(hold, to="service")`.
Rollback is the same with the directions swapped; retire drains and verifies the reverse sync, stops it and
archives the monolith's tables (see `retire.run_retire` for what its proof covers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

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
class WriteHold:
    hold_id: str
    routes: tuple[str, ...]
    max_hold_s: float


class ProxyControl(Protocol):
    def route_stage(self, route: str) -> str:
        """The route's current stage: off, shadow, canary, cutover, live or retired."""
        ...

    def publish_data_state(self, routes: tuple[str, ...], state: DataState, *, owner: Owner = "monolith") -> None:
        """Tell the proxy the data state backing `routes`; it refuses canary/live unless synced and verified."""
        ...

    def hold_writes(self, routes: tuple[str, ...], *, max_hold_s: float, max_queue: int) -> WriteHold:
        """Start holding unsafe requests on `routes` (safe ones keep flowing); bounded in time and queue."""
        ...

    def set_stage(self, route: str, stage: str, *, reason: str) -> None: ...

    def release_writes(self, hold: WriteHold, *, to: Owner) -> None:
        """Release the held requests to the new owner (or back to the old one when aborting)."""
        ...
