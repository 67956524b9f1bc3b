"""The changes an operator makes to the route table, each one a checked, versioned store commit.

Keyword-only, blocking (call from a worker thread), and the only writers of the store besides seeding.
"""

from __future__ import annotations

from typing import Any

from strangler_proxy.control.store import CommitResult, RouteStore
from strangler_proxy.control.table_codec import (
    route_from_dict,
    route_to_dict,
    same_content,
    table_from_dict,
    table_to_dict,
)
from strangler_proxy.control.table_diff import diff_tables
from strangler_proxy.control.table_rules import route_shape
from strangler_proxy.control_errors import Problem, StaleVersion, TableInvalid
from strangler_proxy.dataplane.model import RouteTable, Stage

ROUTE_IDENTITY = ("path", "methods")


def route_set(
    store: RouteStore, *, fields: dict[str, Any], expected_version: int, author: str, reason: str
) -> CommitResult:
    """Create or update the rule with the same (path, methods); fields not given keep their current value."""
    current = store.load()
    if current.table.version != expected_version:
        raise StaleVersion(expected_version, current.table.version)
    problems: list[Problem] = []
    probe = route_from_dict(
        {"service": "-", **{k: fields[k] for k in ROUTE_IDENTITY if k in fields}}, "route", problems
    )
    if probe is None:
        raise TableInvalid(problems)
    routes = [route_to_dict(r) for r in current.table.routes]
    index = next(
        (
            i
            for i, r in enumerate(current.table.routes)
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
    table = _checked(
        {**table_to_dict(current.table), "routes": routes}, index if index is not None else len(routes) - 1
    )
    return store.commit(table, expected_version=expected_version, author=author, reason=reason)


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
