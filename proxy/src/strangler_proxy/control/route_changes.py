"""The changes an operator (or a comparison gate) makes to the route table, each one a checked, versioned commit.

Keyword-only, blocking (call from a worker thread), and the only writers of the store besides seeding.

A firing gate rolls its route back ONE stage, as an operator would (`roll_back_one_stage`: versioned, optimistic
concurrency, audited), with author "gate" and the numbers in the reason: `canary` → `shadow`, `live` → `canary`
at the last canary share the route had (from the store's history; 10% if none). It acts only on the route revision
its evidence was taken under (a route changed meanwhile is left alone), and never tries a move the store's gate
(the data state) would refuse: that firing is `held`, and says what to run instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from strangler_proxy.compare.gates import GateOutcome, Verdict
from strangler_proxy.control.store import CommitResult, RouteStore
from strangler_proxy.control.table_codec import (
    route_from_dict,
    route_to_dict,
    same_content,
    table_from_dict,
    table_to_dict,
)
from strangler_proxy.control.table_diff import diff_tables
from strangler_proxy.dataplane.model import Route, RouteTable, Stage, route_label, stage_label
from strangler_proxy.dataplane.table_rules import route_shape
from strangler_proxy.errors import DataNotReady, Problem, StaleVersion, StranglerError, TableInvalid

ROUTE_IDENTITY = ("path", "methods")
GATE_AUTHOR = "gate"
DEFAULT_ROLLBACK_PERCENT = 10
HISTORY_SCAN = 50

log = logging.getLogger("strangler.gates")


def route_set(
    store: RouteStore,
    *,
    fields: dict[str, Any],
    expected_version: int,
    author: str,
    reason: str,
    dry_run: bool = False,
) -> CommitResult:
    """Create or update the rule with the same (path, methods); fields not given keep their current value. A dry
    run checks everything a commit would (the data gate too) and stores nothing."""
    current = store.load()
    if current.table.version != expected_version:
        raise StaleVersion(expected_version, current.table.version)
    table = with_route(current.table, fields)
    return store.commit(table, expected_version=expected_version, author=author, reason=reason, dry_run=dry_run)


def with_route(current: RouteTable, fields: dict[str, Any]) -> RouteTable:
    """`current` with the rule of the same (path, methods) created or updated from `fields` (checked, not stored)."""
    problems: list[Problem] = []
    probe = route_from_dict(
        {"service": "-", **{k: fields[k] for k in ROUTE_IDENTITY if k in fields}}, "route", problems
    )
    if probe is None:
        raise TableInvalid(problems)
    routes = [route_to_dict(r) for r in current.routes]
    index = next(
        (
            i
            for i, r in enumerate(current.routes)
            if route_shape(r.path) == route_shape(probe.path) and r.methods == probe.methods
        ),
        None,
    )
    merged = {**(routes[index] if index is not None else {}), **fields}
    if "stage" in fields and fields["stage"] != Stage.CANARY.value and "percent" not in fields:
        merged["percent"] = 0
    if index is None:
        routes.append(merged)
    else:
        routes[index] = merged
    return _checked({**table_to_dict(current), "routes": routes}, index if index is not None else len(routes) - 1)


def route_remove(
    store: RouteStore, *, path: str, methods: list[str] | None, expected_version: int, author: str, reason: str
) -> CommitResult:
    current = store.load()
    if current.table.version != expected_version:
        raise StaleVersion(expected_version, current.table.version)
    wanted = frozenset(m.upper() for m in methods) if methods is not None else None
    kept = [r for r in current.table.routes if not (r.path == path and r.methods == wanted)]
    if len(kept) == len(current.table.routes):
        label = f"{path} [{','.join(sorted(wanted))}]" if wanted else path
        raise TableInvalid([Problem("path", f"no route {label} to remove (see `strangler routes list`)")])
    table = table_from_dict({**table_to_dict(current.table), "routes": [route_to_dict(r) for r in kept]})
    return store.commit(table, expected_version=expected_version, author=author, reason=reason)


def table_apply(
    store: RouteStore, *, table: RouteTable, expected_version: int | None, author: str, reason: str, dry_run: bool
) -> CommitResult:
    """Replace the whole table. A dry run returns the diff against the newest version and writes nothing."""
    latest = store.latest_version()
    current = store.load().table if latest else None
    if dry_run:
        if expected_version is not None and expected_version != latest:
            raise StaleVersion(expected_version, latest)
        unchanged = current is not None and same_content(current, table)
        return CommitResult(
            changed=not unchanged, version=latest, diff=[] if unchanged else diff_tables(current, table), table=table
        )
    if expected_version is None:
        raise TableInvalid([Problem("expected_version", "is required: the version you read (GET /routes)")])
    return store.commit(table, expected_version=expected_version, author=author, reason=reason)


def _checked(data: dict[str, Any], route_index: int) -> RouteTable:
    """Validate a table built from one edited route, naming that route's fields as the caller sent them."""
    try:
        return table_from_dict(data)
    except TableInvalid as exc:
        prefix = f"routes[{route_index}]"
        renamed = [
            Problem(p.field.replace(prefix + ".", "", 1).replace(prefix, "route", 1), p.message) for p in exc.problems
        ]
        raise TableInvalid(renamed) from exc


def upstream_set(
    store: RouteStore, *, name: str, fields: dict[str, Any], expected_version: int, author: str, reason: str
) -> CommitResult:
    """Add the upstream `name` or change some of its fields (a new one needs `url`)."""
    current = store.load()
    if current.table.version != expected_version:
        raise StaleVersion(expected_version, current.table.version)
    data = table_to_dict(current.table)
    data["upstreams"][name] = {**data["upstreams"].get(name, {}), **fields}
    table = table_from_dict(data)
    return store.commit(table, expected_version=expected_version, author=author, reason=reason)


def upstream_remove(store: RouteStore, *, name: str, expected_version: int, author: str, reason: str) -> CommitResult:
    current = store.load()
    if current.table.version != expected_version:
        raise StaleVersion(expected_version, current.table.version)
    table = current.table
    if name not in table.upstreams:
        known = ", ".join(sorted(table.upstreams))
        raise TableInvalid([Problem("name", f"there is no upstream {name!r} (known: {known})")])
    if name == table.default_upstream:
        raise TableInvalid([Problem("name", f"{name!r} is the default upstream: unmatched requests go there")])
    users = [r.path for r in table.routes if r.service == name]
    if users:
        raise TableInvalid(
            [Problem("name", f"{name!r} is the service of {', '.join(users)}; remove or change those routes first")]
        )
    data = table_to_dict(table)
    del data["upstreams"][name]
    return store.commit(table_from_dict(data), expected_version=expected_version, author=author, reason=reason)


def gate_rollback(
    store: RouteStore, on_outcome: Callable[[Route, Verdict, GateOutcome], None] | None = None
) -> Callable[[Route, Verdict], GateOutcome]:
    """What a comparator's gate calls when it fires: roll the route back in `store` (blocking), then tell
    `on_outcome` (the firing's record) what became of it."""

    def roll_back(route: Route, verdict: Verdict) -> GateOutcome:
        outcome = roll_back_one_stage(store, route, verdict)
        if on_outcome is not None:
            on_outcome(route, verdict, outcome)
        return outcome

    return roll_back


def roll_back_one_stage(store: RouteStore, route: Route, verdict: Verdict) -> GateOutcome:
    """Move `route` one stage back in the store (blocking), if it is still exactly the route the evidence was taken
    on and the data state allows the move."""
    label = route_label(route)
    for _attempt in range(3):
        try:
            current = store.load()
        except StranglerError as exc:
            return GateOutcome("failed", f"the route store could not be read: {exc}")
        found = next(
            (r for r in current.table.routes if r.path == route.path and r.methods == route.methods),
            None,
        )
        if found is None or found != route or found.stage not in (Stage.CANARY, Stage.LIVE):
            now = "removed" if found is None else f"now {stage_label(found)}"
            return GateOutcome("moved", f"{label} changed after the evidence was taken ({now}): not moved")
        fields: dict[str, object] = {"path": found.path}
        if found.methods is not None:
            fields["methods"] = sorted(found.methods)
        if found.stage is Stage.CANARY:
            fields.update(stage=Stage.SHADOW.value, percent=0)
            target = "shadow"
        else:
            percent = _last_canary_percent(store, found, current.table.version)
            fields.update(stage=Stage.CANARY.value, percent=percent)
            target = f"canary {percent}%"
        move = f"{stage_label(found)} -> {target}"
        reason = f"gate: {'; '.join(verdict.reasons)} over the last {verdict.samples} compared requests; {move}"
        if store.gate is not None:
            try:
                store.gate(current.table, with_route(current.table, fields))
            except DataNotReady as exc:
                # Never tried: the commit would be refused, and trying says nothing the data state does not.
                return GateOutcome("held", f"{label} stays {stage_label(found)}: {move} is not allowed: {exc}")
        try:
            result = route_set(
                store, fields=fields, expected_version=current.table.version, author=GATE_AUTHOR, reason=reason
            )
        except StaleVersion:
            continue  # another change to the table meanwhile: look again at what the route is now
        except StranglerError as exc:
            return GateOutcome("failed", f"{move} was refused: {exc}")
        log.warning("route %s rolled back by its gate: %s", label, reason)
        return GateOutcome("rolled_back", f"{move} (version {result.version})", result.table)
    return GateOutcome("failed", f"{label}: the route table kept changing; not moved")


def _last_canary_percent(store: RouteStore, route: Route, latest: int) -> int:
    for version in range(latest - 1, max(0, latest - HISTORY_SCAN), -1):
        table = store.load(version).table
        for r in table.routes:
            if r.path == route.path and r.methods == route.methods and r.stage is Stage.CANARY and r.percent > 0:
                return r.percent
    return DEFAULT_ROLLBACK_PERCENT
