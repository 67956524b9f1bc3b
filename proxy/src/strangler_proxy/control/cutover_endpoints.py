"""Admin endpoints a data cutover drives: write holds (leases), and the data state that gates routes and names the
owner the data plane sends writes to.

    POST   /holds        {path, timeout?, max_queue?, reason?, holder?, lease?, settle?}  -> {id, path, age_s, ...}
    POST   /holds/renew  {ids}                          -> {renewed: [...], ended: [...]}  the holder is alive
    DELETE /holds        {id}                           -> {id, released, hold, waits}     release them
    POST   /holds/finish {ids, routes?, reason, author?}  -> {ids, ended, released, waits, holds, version, changed}
                         set each route to its stage (one audited store commit), then release the holds
    GET    /holds        ?holder=PREFIX                 -> {holds: [...], waits: {held, p50_ms, ...}, replicas?: [...]}
    GET    /holds/local                                 -> {holds: [...], waits: {...}}   what this process holds
    PUT    /data-state   {spec, routes, phase, owner, lag_seconds, verify_clean, verified_at, fence?}  a report
    GET    /data-state                                  -> {states: [...], limits}

A report that changes the owner of a spec's data (the first `service`, or any change after that) is the commit
point of a cutover or rollback: it is accepted only with `fence`, the ids of active holds that cover every route
of the report and every route of the table declaring that spec, and the holds cannot end while it is stored
(`HoldCoordinator.fenced`; on a shared store every live replica acknowledged those holds). So no write is on its
way to either side when the owner changes, and the held writes go to the new owner once released. Without a live
fence: 409 `holds_not_in_place`, nothing changed. A report that keeps the owner needs no fence.

`POST /holds/finish` ends a handover's hold in one round trip: `routes` (`[{path, stage, percent?, data?}]`, each the
every-method route at `path`) are set first, while the writes are still held, in one versioned store commit audited
with `author` and `reason` (routes already at their stage are left as they are: no commit when none changes), then
every hold of `ids` is released (one that ended already is named in `ended`, not an error). Safe to send again after
a lost answer: the second call changes nothing and releases nothing. If the routes cannot be set (the data gate
refuses, the table changed meanwhile: 409), no hold is released.

`GET /holds` names the replicas sharing the store, when they do. `add_cutover_endpoints(admin, holds, gate,
owners=..., route_store=...)` registers them; `wiring.attach_cutover`
puts the write hold in front of the `ProxyApp`, the data gate on the route store, and loads the owners.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from strangler_proxy.control.admin import AdminApp, Request
from strangler_proxy.control.data_state import DataGate, state_from_dict
from strangler_proxy.control.hold_coordinator import HoldCoordinator
from strangler_proxy.control.route_changes import with_route
from strangler_proxy.control.route_endpoints import author_and_reason
from strangler_proxy.control.store import CommitResult, RouteStore
from strangler_proxy.dataplane.data_owners import MONOLITH, DataOwners
from strangler_proxy.dataplane.model import RouteTable
from strangler_proxy.dataplane.table_rules import check_route_path
from strangler_proxy.dataplane.write_hold import DEFAULT_MAX_QUEUE, DEFAULT_TIMEOUT, MAX_QUEUE, MAX_TIMEOUT
from strangler_proxy.errors import HoldsNotInPlace, Problem, StoreEmpty, TableInvalid, UnknownHold, WritesInFlight

log = logging.getLogger("strangler_proxy.cutover")

MIN_LEASE = 0.1


def add_cutover_endpoints(
    admin: AdminApp,
    holds: HoldCoordinator,
    gate: DataGate,
    *,
    owners: DataOwners,
    route_store: RouteStore,
    on_change: Callable[[RouteTable], None] | None = None,
) -> None:
    """`on_change` gets each table `POST /holds/finish` commits (the data plane loads it before the release)."""
    endpoints = CutoverEndpoints(holds, gate, owners, route_store, on_change)
    admin.add("POST", "/holds", endpoints.post_hold)
    admin.add("POST", "/holds/renew", endpoints.renew_holds)
    admin.add("POST", "/holds/finish", endpoints.finish_holds)
    admin.add("DELETE", "/holds", endpoints.delete_hold)
    admin.add("GET", "/holds", endpoints.get_holds)
    admin.add("GET", "/holds/local", endpoints.get_local_holds)
    admin.add("PUT", "/data-state", endpoints.put_data_state)
    admin.add("GET", "/data-state", endpoints.get_data_state)


class CutoverEndpoints:
    def __init__(
        self,
        holds: HoldCoordinator,
        gate: DataGate,
        owners: DataOwners,
        route_store: RouteStore,
        on_change: Callable[[RouteTable], None] | None = None,
    ) -> None:
        self.holds = holds
        self.states = gate.states
        self.gate = gate
        self.owners = owners
        self.route_store = route_store
        self.on_change = on_change
        self._owner_change = asyncio.Lock()  # one owner change at a time: read, check, store, apply

    async def post_hold(self, request: Request) -> tuple[int, Any]:
        body = await request.json()
        problems: list[Problem] = []
        path = body.get("path")
        if not isinstance(path, str) or check_route_path(path) is not None:
            problems.append(Problem("path", "is required: a canonical route path such as /api/catalog"))
        timeout = _number(body, "timeout", DEFAULT_TIMEOUT, 0.01, MAX_TIMEOUT, problems)
        max_queue = _number(body, "max_queue", DEFAULT_MAX_QUEUE, 1, MAX_QUEUE, problems)
        lease = None if body.get("lease") is None else _number(body, "lease", 1.0, MIN_LEASE, MAX_TIMEOUT, problems)
        settle = _number(body, "settle", 0.0, 0.0, MAX_TIMEOUT, problems)
        reason, holder = body.get("reason", ""), body.get("holder", "")
        for name, value in (("reason", reason), ("holder", holder)):
            if not isinstance(value, str):
                problems.append(Problem(name, "must be a string"))
        unknown = sorted(set(body) - {"path", "timeout", "max_queue", "reason", "holder", "lease", "settle"})
        problems.extend(Problem(k, "is not a hold field") for k in unknown)
        if problems:
            raise TableInvalid(problems)
        assert isinstance(path, str) and isinstance(reason, str) and isinstance(holder, str)
        try:
            hold = await self.holds.start(
                path,
                lifetime=float(timeout),
                max_queue=int(max_queue),
                reason=reason,
                holder=holder,
                lease=lease,
                settle=float(settle),
            )
        except WritesInFlight as exc:
            log.warning("hold of %s not started: %s", path, exc)
            raise
        lease_text = f", lease {lease:g}s" if lease is not None else ""
        log.warning(
            "holding writes to %s for at most %gs%s (hold %s, holder %r): %s",
            path,
            hold["timeout"],
            lease_text,
            hold["id"],
            holder,
            reason,
        )
        return 201, hold

    async def renew_holds(self, request: Request) -> tuple[int, Any]:
        ids = (await request.json()).get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
            raise TableInvalid([Problem("ids", "is required: the ids POST /holds returned")])
        renewed = await self.holds.renew(ids)
        return 200, {"renewed": renewed, "ended": [i for i in ids if i not in renewed]}

    async def delete_hold(self, request: Request) -> tuple[int, Any]:
        body = await request.json()
        hold_id = body.get("id")
        if not isinstance(hold_id, str) or not hold_id:
            raise TableInvalid([Problem("id", "is required: the id POST /holds returned")])
        ended = await self._release(hold_id)
        if ended is None:
            raise UnknownHold(hold_id)
        return 200, {"id": hold_id, **ended}

    async def _release(self, hold_id: str) -> dict[str, Any] | None:
        """Release one hold, said in the log; None when it had ended already."""
        ended = await self.holds.release(hold_id)  # a commit under this hold finishes before its writes go on
        if ended is not None:
            log.warning(
                "released writes to %s (hold %s): %d waited here, p99 %s ms",
                ended["hold"]["path"],
                hold_id,
                ended["released"],
                ended["waits"]["p99_ms"],
            )
        return ended

    async def finish_holds(self, request: Request) -> tuple[int, Any]:
        """The routes to their stages (writes still held), then the holds released: a handover's last call."""
        body = await request.json()
        problems: list[Problem] = []
        ids = body.get("ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
            problems.append(Problem("ids", "is required: the ids POST /holds returned"))
        routes = body.get("routes", [])
        changes = _stage_changes(routes, problems)
        author, reason = author_and_reason(body, request, problems)
        unknown = sorted(set(body) - {"ids", "routes", "reason", "author"})
        problems.extend(Problem(k, "is not a field of a hold's finish") for k in unknown)
        if problems:
            raise TableInvalid(problems)
        assert isinstance(ids, list)
        result = await asyncio.to_thread(self._set_stages, changes, author, reason) if changes else None
        if result is not None and result.changed:
            if self.on_change is not None:
                self.on_change(result.table)  # served before the held writes go on
            log.warning("route table version %d by %s: %s", result.version, author, reason)
        ended, each = [], []
        for hold_id in ids:
            answer = await self._release(hold_id)
            if answer is None:
                ended.append(hold_id)
            else:
                each.append({"id": hold_id, **answer})
        return 200, {
            "ids": ids,
            "ended": ended,
            "released": sum(int(h["released"]) for h in each),
            # The waits of the hold that held the most (each hold's are in `holds`).
            "waits": max(each, key=lambda h: int(h["waits"].get("held") or 0))["waits"] if each else {},
            "holds": each,  # DELETE /holds's answer for each hold released
            "version": None if result is None else result.version,
            "changed": bool(result is not None and result.changed),
            "diff": [] if result is None else result.diff,
        }

    def _set_stages(self, changes: list[dict[str, Any]], author: str, reason: str) -> CommitResult:
        """Every route of `changes` at its stage, in one commit (none when each is there already)."""
        current = self.route_store.load().table
        table = current
        for fields in changes:
            table = with_route(table, fields)
        return self.route_store.commit(table, expected_version=current.version, author=author, reason=reason)

    async def get_holds(self, request: Request) -> tuple[int, Any]:
        holder = unquote_plus(request.query("holder") or "")  # Request.query leaves values percent-encoded
        held = await self.holds.in_force(holder)
        answer = {"holds": held, "waits": self.holds.holds.stats()}
        replicas = await self.holds.replicas()
        if replicas:
            answer["replicas"] = replicas
        return 200, answer

    async def get_local_holds(self, request: Request) -> tuple[int, Any]:
        """What this process holds itself, with its waiting requests (on a shared store, its mirror of each hold)."""
        return 200, {"holds": [h.as_dict() for h in self.holds.holds.holds()], "waits": self.holds.holds.stats()}

    async def put_data_state(self, request: Request) -> tuple[int, Any]:
        body = await request.json()
        fence = body.pop("fence", None)
        if fence is not None and (not isinstance(fence, list) or not all(isinstance(i, str) for i in fence)):
            raise TableInvalid([Problem("fence", "must be the ids of the holds this owner change happens under")])
        state = state_from_dict(body)
        async with self._owner_change:
            current = await asyncio.to_thread(self.states.get, state.spec)
            believed = current.owner if current is not None else MONOLITH
            if state.owner == believed:
                await asyncio.to_thread(self.states.put, state)
                self.owners.set(state.spec, state.owner)
            else:
                declared = await asyncio.to_thread(self._declaring, state.spec)
                paths = sorted({*state.routes, *declared})
                try:
                    async with self.holds.fenced(fence or [], paths):
                        # The holds cannot end while the owner changes: no write goes anywhere meanwhile.
                        await asyncio.to_thread(self.states.put, state)
                        self.owners.set(state.spec, state.owner)
                except HoldsNotInPlace as exc:
                    raise HoldsNotInPlace(
                        f"the data of spec {state.spec!r} moves from the {believed} to the {state.owner} only under "
                        f"write holds covering {', '.join(paths) or 'its routes'}: {exc}; nothing changed (run "
                        f"`strangler data cutover` or `rollback` on the {state.spec} spec, which hold the writes)"
                    ) from exc
                log.warning("data of %s now owned by the %s (was the %s)", state.spec, state.owner, believed)
        log.info(
            "data state %s: owner %s, phase %s, lag %s, verify %s",
            state.spec,
            state.owner,
            state.phase,
            state.lag_seconds,
            state.verify_clean,
        )
        return 200, state.as_dict()

    def _declaring(self, spec: str) -> list[str]:
        """The paths of the stored table's routes that declare `spec`'s data: the owner routes their writes too."""
        try:
            table = self.route_store.load().table
        except StoreEmpty:
            return []
        return [r.path for r in table.routes if r.data == spec]

    async def get_data_state(self, request: Request) -> tuple[int, Any]:
        states = await asyncio.to_thread(self.states.all)
        limits = {"max_lag": self.gate.limits.max_lag, "max_age": self.gate.limits.max_age}
        return 200, {"states": [s.as_dict() for s in states], "limits": limits}


def _stage_changes(routes: Any, problems: list[Problem]) -> list[dict[str, Any]]:
    """`[{path, stage, percent?, data?}]` as the fields `with_route` takes (the every-method route at `path`)."""
    if not isinstance(routes, list):
        problems.append(Problem("routes", "must be a list of {path, stage, percent?, data?}"))
        return []
    changes = []
    for i, route in enumerate(routes):
        where = f"routes[{i}]"
        if not isinstance(route, dict) or set(route) - {"path", "stage", "percent", "data"}:
            problems.append(Problem(where, "must be {path, stage, percent?, data?}"))
            continue
        path, stage = route.get("path"), route.get("stage")
        if not isinstance(path, str) or check_route_path(path) is not None:
            problems.append(Problem(f"{where}.path", "is required: a canonical route path such as /api/catalog"))
            continue
        if not isinstance(stage, str):
            problems.append(Problem(f"{where}.stage", "is required: off, shadow, canary or live"))
            continue
        fields: dict[str, Any] = {"path": path, "stage": stage}
        if stage == "canary":
            fields["percent"] = route.get("percent", 0)
        if route.get("data") is not None:
            fields["data"] = route["data"]
        changes.append(fields)
    return changes


def _number(body: dict[str, Any], name: str, default: float, low: float, high: float, problems: list[Problem]) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        problems.append(Problem(name, f"must be a number from {low:g} to {high:g}"))
        return default
    return float(value)
