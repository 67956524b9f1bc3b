"""The route table's endpoints on the admin API: read it, change one route or upstream, apply, roll back, history.

    GET    /routes           the current table and its version
    POST   /routes           create or update one route: {path, service, stage, percent, ..., reason, expected_version}
    DELETE /routes           remove one route: {path, methods?, reason, expected_version}
    POST   /apply            replace the whole table: {table, reason, expected_version, dry_run}
    GET    /history?limit=N  versions, newest first, with who/when/why and a change summary
    GET    /versions/{n}     the table as it was at version n
    POST   /rollback         append a copy of an earlier version: {to_version?, reason, expected_version}
    POST   /upstreams        add or change one upstream: {name, url?, read_timeout?, ..., reason, expected_version}
    DELETE /upstreams        remove an upstream no route uses: {name, reason, expected_version}

Writes answer {version, changed, diff, table}; each is a versioned, audited store commit (`route_changes.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from strangler_proxy.control.admin import AdminApp, Request
from strangler_proxy.control.route_changes import route_remove, route_set, table_apply, upstream_remove, upstream_set
from strangler_proxy.control.store import CommitResult, RouteStore
from strangler_proxy.control.table_codec import table_from_dict, table_to_dict
from strangler_proxy.dataplane.model import RouteTable
from strangler_proxy.errors import Problem, RequestRefused, TableInvalid

HISTORY_LIMIT = 50
WRITE_FIELDS = frozenset({"reason", "expected_version", "author"})


def route_admin_app(
    store: RouteStore,
    *,
    token: str | None,
    metrics: Callable[[], tuple[bytes, str]] | None = None,
    on_change: Callable[[RouteTable], None] | None = None,
) -> AdminApp:
    """An admin API over `store` with the route table's endpoints; `on_change` gets each newly committed table."""
    admin = AdminApp(token=token, metrics=metrics)
    add_route_endpoints(admin, store, on_change=on_change)
    return admin


def add_route_endpoints(
    admin: AdminApp, store: RouteStore, *, on_change: Callable[[RouteTable], None] | None = None
) -> None:
    endpoints = RouteEndpoints(store, on_change)
    admin.add("GET", "/routes", endpoints.get_routes)
    admin.add("POST", "/routes", endpoints.post_routes)
    admin.add("DELETE", "/routes", endpoints.delete_routes)
    admin.add("POST", "/apply", endpoints.post_apply)
    admin.add("GET", "/history", endpoints.get_history)
    admin.add("GET", "/versions/{version}", endpoints.get_version)
    admin.add("POST", "/rollback", endpoints.post_rollback)
    admin.add("POST", "/upstreams", endpoints.post_upstreams)
    admin.add("DELETE", "/upstreams", endpoints.delete_upstreams)


class RouteEndpoints:
    def __init__(self, store: RouteStore, on_change: Callable[[RouteTable], None] | None) -> None:
        self.store = store
        self.on_change = on_change

    async def get_routes(self, request: Request) -> tuple[int, Any]:
        latest = await asyncio.to_thread(self.store.latest_version)
        if latest == 0:
            return 200, {"version": 0, "table": None}
        snapshot = await asyncio.to_thread(self.store.load, latest)
        info = snapshot.info
        return 200, {
            "version": info.version,
            "table": table_to_dict(snapshot.table),
            "changed_at": info.created_at,
            "author": info.author,
            "reason": info.reason,
        }

    async def get_version(self, request: Request) -> tuple[int, Any]:
        raw = request.params["version"]
        if not raw.isdigit():
            raise RequestRefused(404, "not_found", f"no admin endpoint {request.path}; versions are numbered")
        version = int(raw)
        snapshot = await asyncio.to_thread(self.store.load, version)
        return 200, {"version": version, "table": table_to_dict(snapshot.table), **asdict(snapshot.info)}

    async def get_history(self, request: Request) -> tuple[int, Any]:
        raw = request.query("limit") or str(HISTORY_LIMIT)
        if not raw.isdigit() or not 1 <= int(raw) <= 1000:
            raise TableInvalid([Problem("limit", "must be a whole number between 1 and 1000")])
        versions = await asyncio.to_thread(self.store.history, limit=int(raw))
        return 200, {"versions": [asdict(v) for v in versions]}

    async def post_routes(self, request: Request) -> tuple[int, Any]:
        body = await request.json()
        dry_run = _dry_run(body)
        expected, author, reason = _write_fields(body, request, dry_run=dry_run)
        fields = {k: v for k, v in body.items() if k not in WRITE_FIELDS}
        result = await asyncio.to_thread(
            lambda: route_set(
                self.store, fields=fields, expected_version=expected, author=author, reason=reason, dry_run=dry_run
            )
        )
        return self._previewed(result) if dry_run else self._committed(result)

    async def delete_routes(self, request: Request) -> tuple[int, Any]:
        body = await request.json()
        expected, author, reason = _write_fields(body, request)
        path, methods = body.get("path"), body.get("methods")
        if not isinstance(path, str) or not (methods is None or isinstance(methods, list)):
            raise TableInvalid([Problem("path", "give the route's path (and its methods list, if it has one)")])
        result = await asyncio.to_thread(
            lambda: route_remove(
                self.store, path=path, methods=methods, expected_version=expected, author=author, reason=reason
            )
        )
        return self._committed(result)

    async def post_upstreams(self, request: Request) -> tuple[int, Any]:
        body = await request.json()
        expected, author, reason = _write_fields(body, request)
        name = _upstream_name(body)
        fields = {k: v for k, v in body.items() if k not in WRITE_FIELDS and k != "name"}
        result = await asyncio.to_thread(
            lambda: upstream_set(
                self.store, name=name, fields=fields, expected_version=expected, author=author, reason=reason
            )
        )
        return self._committed(result)

    async def delete_upstreams(self, request: Request) -> tuple[int, Any]:
        body = await request.json()
        expected, author, reason = _write_fields(body, request)
        name = _upstream_name(body)
        result = await asyncio.to_thread(
            lambda: upstream_remove(self.store, name=name, expected_version=expected, author=author, reason=reason)
        )
        return self._committed(result)

    async def post_apply(self, request: Request) -> tuple[int, Any]:
        body = await request.json()
        dry_run = body.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise TableInvalid([Problem("dry_run", "must be true or false")])
        if dry_run:
            expected = body.get("expected_version")
            if expected is not None and (not isinstance(expected, int) or isinstance(expected, bool)):
                raise TableInvalid([Problem("expected_version", "must be a whole number")])
            author, reason = "", ""
        else:
            expected, author, reason = _write_fields(body, request)
        table = table_from_dict(body.get("table"))
        result = await asyncio.to_thread(
            lambda: table_apply(
                self.store, table=table, expected_version=expected, author=author, reason=reason, dry_run=dry_run
            )
        )
        if dry_run:
            return 200, {"dry_run": True, "version": result.version, "changed": result.changed, "diff": result.diff}
        return self._committed(result)

    async def post_rollback(self, request: Request) -> tuple[int, Any]:
        body = await request.json()
        dry_run = _dry_run(body)
        expected, author, reason = _write_fields(body, request, dry_run=dry_run)
        to_version = body.get("to_version")
        if to_version is not None and (not isinstance(to_version, int) or isinstance(to_version, bool)):
            raise TableInvalid([Problem("to_version", "must be a version number from GET /history")])
        result = await asyncio.to_thread(
            lambda: self.store.rollback(
                to_version=to_version, expected_version=expected, author=author, reason=reason, dry_run=dry_run
            )
        )
        return self._previewed(result) if dry_run else self._committed(result)

    def _previewed(self, result: CommitResult) -> tuple[int, Any]:
        return 200, {"dry_run": True, "version": result.version, "changed": result.changed, "diff": result.diff}

    def _committed(self, result: CommitResult) -> tuple[int, Any]:
        if result.changed and self.on_change is not None:
            self.on_change(result.table)
        return 200, {
            "version": result.version,
            "changed": result.changed,
            "diff": result.diff,
            "table": table_to_dict(result.table),
        }


def _dry_run(body: dict[str, Any]) -> bool:
    dry_run = body.pop("dry_run", False)
    if not isinstance(dry_run, bool):
        raise TableInvalid([Problem("dry_run", "must be true or false")])
    return dry_run


def _write_fields(body: dict[str, Any], request: Request, *, dry_run: bool = False) -> tuple[int, str, str]:
    """expected_version, author and reason of a write; a dry run needs no reason (it writes nothing)."""
    problems: list[Problem] = []
    expected = body.get("expected_version")
    if not isinstance(expected, int) or isinstance(expected, bool) or expected < 0:
        problems.append(Problem("expected_version", "is required: the version you read (GET /routes)"))
    author, reason = author_and_reason(body, request, problems, dry_run=dry_run)
    if problems:
        raise TableInvalid(problems)
    assert isinstance(expected, int)
    return expected, author, reason


def author_and_reason(
    body: dict[str, Any], request: Request, problems: list[Problem], *, dry_run: bool = False
) -> tuple[str, str]:
    """Who makes a route change (`author`, else anonymous@<client address>) and why (`reason`, required but for a
    dry run), for the audit log; what is wrong with either is added to `problems`."""
    reason = body.get("reason", "" if dry_run else None)
    if not isinstance(reason, str) or (not reason.strip() and not dry_run):
        problems.append(Problem("reason", "is required: say why, for the audit log"))
    author = body.get("author")
    if author is not None and (not isinstance(author, str) or not author.strip() or len(author) > 200):
        problems.append(Problem("author", "must be a short non-empty string naming who makes the change"))
    client = request.scope.get("client") or ("unknown", 0)
    named = author if isinstance(author, str) and author.strip() else f"anonymous@{client[0]}"
    return named.strip(), reason.strip() if isinstance(reason, str) else ""


def _upstream_name(body: dict[str, Any]) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise TableInvalid([Problem("name", "is required: the upstream's name, e.g. catalog")])
    return name
