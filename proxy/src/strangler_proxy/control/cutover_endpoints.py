"""Admin endpoints a data cutover drives: write holds and the data state that gates routes.

    POST   /holds        {path, timeout?, max_queue?, reason?}  -> {id, path, timeout, ...}      hold unsafe requests
    DELETE /holds        {id}                                   -> {id, released, hold, waits}   release them
    GET    /holds                                               -> {holds: [...], waits: {held, p50_ms, p99_ms, max_ms}}
    PUT    /data-state   {spec, routes, phase, owner, lag_seconds, verify_clean, verified_at}   the engine's report
    GET    /data-state                                          -> {states: [...], limits}

`add_cutover_endpoints(admin, holds, gate)` registers them; `wiring.attach_cutover` puts the write hold in front of
the `ProxyApp` and the data gate on the route store.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from strangler_proxy.control.admin import AdminApp, Request
from strangler_proxy.control.data_state import DataGate, state_from_dict
from strangler_proxy.dataplane.table_rules import check_route_path
from strangler_proxy.dataplane.write_hold import (
    DEFAULT_MAX_QUEUE,
    DEFAULT_TIMEOUT,
    MAX_QUEUE,
    MAX_TIMEOUT,
    WriteHolds,
    wait_stats,
)
from strangler_proxy.errors import Problem, TableInvalid, UnknownHold, WritesInFlight

log = logging.getLogger("strangler_proxy.cutover")


def add_cutover_endpoints(admin: AdminApp, holds: WriteHolds, gate: DataGate) -> None:
    endpoints = CutoverEndpoints(holds, gate)
    admin.add("POST", "/holds", endpoints.post_hold)
    admin.add("DELETE", "/holds", endpoints.delete_hold)
    admin.add("GET", "/holds", endpoints.get_holds)
    admin.add("PUT", "/data-state", endpoints.put_data_state)
    admin.add("GET", "/data-state", endpoints.get_data_state)


class CutoverEndpoints:
    def __init__(self, holds: WriteHolds, gate: DataGate) -> None:
        self.holds = holds
        self.states = gate.states
        self.gate = gate

    async def post_hold(self, request: Request) -> tuple[int, Any]:
        body = await request.json()
        problems: list[Problem] = []
        path = body.get("path")
        if not isinstance(path, str) or check_route_path(path) is not None:
            problems.append(Problem("path", "is required: a canonical route path such as /api/catalog"))
        timeout = _number(body, "timeout", DEFAULT_TIMEOUT, 0.01, MAX_TIMEOUT, problems)
        max_queue = _number(body, "max_queue", DEFAULT_MAX_QUEUE, 1, MAX_QUEUE, problems)
        reason = body.get("reason", "")
        if not isinstance(reason, str):
            problems.append(Problem("reason", "must be a string"))
        unknown = sorted(set(body) - {"path", "timeout", "max_queue", "reason"})
        problems.extend(Problem(k, "is not a hold field") for k in unknown)
        if problems:
            raise TableInvalid(problems)
        assert isinstance(path, str) and isinstance(reason, str)
        try:
            hold = await self.holds.start(path, lifetime=float(timeout), max_queue=int(max_queue), reason=reason)
        except WritesInFlight as exc:
            log.warning("hold of %s not started: %s", path, exc)
            raise
        log.warning("holding writes to %s for at most %gs (hold %s): %s", path, hold.timeout, hold.id, reason)
        return 201, hold.as_dict()

    async def delete_hold(self, request: Request) -> tuple[int, Any]:
        body = await request.json()
        hold_id = body.get("id")
        if not isinstance(hold_id, str) or not hold_id:
            raise TableInvalid([Problem("id", "is required: the id POST /holds returned")])
        hold = self.holds.release(hold_id)
        if hold is None:
            raise UnknownHold(hold_id)
        waits = wait_stats(hold.waits)
        log.warning(
            "released writes to %s (hold %s): %d waited, p99 %s ms", hold.path, hold_id, hold.waiting, waits["p99_ms"]
        )
        return 200, {"id": hold_id, "released": hold.waiting, "hold": hold.as_dict(), "waits": waits}

    async def get_holds(self, request: Request) -> tuple[int, Any]:
        return 200, {"holds": [h.as_dict() for h in self.holds.holds()], "waits": self.holds.stats()}

    async def put_data_state(self, request: Request) -> tuple[int, Any]:
        state = state_from_dict(await request.json())
        await asyncio.to_thread(self.states.put, state)
        log.info(
            "data state %s: owner %s, phase %s, lag %s, verify %s",
            state.spec,
            state.owner,
            state.phase,
            state.lag_seconds,
            state.verify_clean,
        )
        return 200, state.as_dict()

    async def get_data_state(self, request: Request) -> tuple[int, Any]:
        states = await asyncio.to_thread(self.states.all)
        limits = {"max_lag": self.gate.limits.max_lag, "max_age": self.gate.limits.max_age}
        return 200, {"states": [s.as_dict() for s in states], "limits": limits}


def _number(body: dict[str, Any], name: str, default: float, low: float, high: float, problems: list[Problem]) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        problems.append(Problem(name, f"must be a number from {low:g} to {high:g}"))
        return default
    return float(value)
