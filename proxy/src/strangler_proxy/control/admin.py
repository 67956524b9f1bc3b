"""The admin API: a small JSON-only ASGI app served on its own listener, never on the public one.

    GET    /healthz          liveness (no token needed)
    GET    /metrics          Prometheus text from the data plane's registry
    GET    /routes           the current table and its version
    POST   /routes           create or update one route: {path, service, stage, percent, ..., reason, expected_version}
    DELETE /routes           remove one route: {path, methods?, reason, expected_version}
    POST   /apply            replace the whole table: {table, reason, expected_version, dry_run}
    GET    /history?limit=N  versions, newest first, with who/when/why and a change summary
    GET    /versions/{n}     the table as it was at version n
    POST   /rollback         append a copy of an earlier version: {to_version?, reason, expected_version}
    POST   /upstreams        add or change one upstream: {name, url?, read_timeout?, ..., reason, expected_version}
    DELETE /upstreams        remove an upstream no route uses: {name, reason, expected_version}

Every endpoint except /healthz needs `Authorization: Bearer <STRANGLER_ADMIN_TOKEN>`, compared with
hmac.compare_digest. Every error has one shape: {"error", "status", "detail", "producer", "problems"?}.
Other parts add endpoints to a built app: `admin.routes[("GET", "/mismatches")] = handler`, where `handler` is
`async (Request) -> (status, json_data)` and raises ControlPlaneError or HttpError for the error shape; auth and
logging come with it.

Without a token (the dev mode runtime allows only on loopback) requests must carry a loopback Host header, so a
web page in the operator's browser cannot reach the API through DNS rebinding.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from strangler_proxy.control.route_changes import route_remove, route_set, table_apply, upstream_remove, upstream_set
from strangler_proxy.control.store import CommitResult, RouteStore
from strangler_proxy.control.table_codec import table_from_dict, table_to_dict
from strangler_proxy.control_errors import ControlPlaneError, Problem, StaleVersion, TableInvalid
from strangler_proxy.dataplane.model import RouteTable
from strangler_proxy.http.asgi import Receive, Scope, Send

PRODUCER = "strangler-admin"
MAX_BODY = 1 << 20
HISTORY_LIMIT = 50
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
VERSION_PATH = re.compile(r"^/versions/(\d+)$")
WRITE_FIELDS = frozenset({"reason", "expected_version", "author"})

log = logging.getLogger("strangler_proxy.control.admin")


class HttpError(Exception):
    """An error in the request itself (not in the route table): bad JSON, wrong method, no token."""

    def __init__(self, status: int, code: str, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or []


class Request:
    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}

    def query(self, name: str) -> str | None:
        query_string: bytes = self.scope.get("query_string", b"")
        for pair in query_string.decode("latin-1").split("&"):
            key, _, value = pair.partition("=")
            if key == name:
                return value
        return None

    async def json(self) -> dict[str, Any]:
        content_type = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise HttpError(415, "unsupported_media_type", "send the body as JSON with Content-Type: application/json")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                raise HttpError(413, "body_too_large", f"the body is over {MAX_BODY} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        try:
            data = json.loads(b"".join(chunks) or b"null")
        except ValueError as exc:
            raise HttpError(400, "invalid_json", f"the body is not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise HttpError(400, "invalid_json", "the body must be a JSON object")
        return data


class AdminApp:
    def __init__(
        self,
        store: RouteStore,
        *,
        token: str | None,
        metrics: Callable[[], tuple[bytes, str]] | None = None,
        on_change: Callable[[RouteTable], None] | None = None,
    ) -> None:
        """`token=None` disables auth (dev mode); `on_change` gets each newly committed table at once."""
        self.store = store
        self._token = token.encode() if token is not None else None
        self.metrics = metrics
        self.on_change = on_change
        self.routes: dict[tuple[str, str], Callable[[Request], Awaitable[tuple[int, Any]]]] = {
            ("GET", "/routes"): self.get_routes,
            ("POST", "/routes"): self.post_routes,
            ("DELETE", "/routes"): self.delete_routes,
            ("POST", "/apply"): self.post_apply,
            ("GET", "/history"): self.get_history,
            ("POST", "/rollback"): self.post_rollback,
            ("POST", "/upstreams"): self.post_upstreams,
            ("DELETE", "/upstreams"): self.delete_upstreams,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request = Request(scope, receive)
        status, body, content_type, headers = await self._respond(request)
        log.info(
            "admin %s %s -> %d in %.1f ms",
            request.method,
            request.path,
            status,
            (time.perf_counter() - started) * 1000,
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                    (b"x-strangler-admin", b"1"),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _respond(self, request: Request) -> tuple[int, bytes, str, list[tuple[bytes, bytes]]]:
        try:
            if request.path == "/healthz":
                return 200, _dumps({"status": "ok", "producer": PRODUCER}), "application/json", []
            self._authenticate(request)
            if request.path == "/metrics" and request.method == "GET":
                if self.metrics is None:
                    raise HttpError(404, "not_found", "this admin API has no metrics registry")
                body, content_type = self.metrics()
                return 200, body, content_type, []
            handler = self.routes.get((request.method, request.path))
            version_match = VERSION_PATH.match(request.path)
            if handler is None and version_match and request.method == "GET":
                status, data = await self.get_version(int(version_match.group(1)))
            elif handler is None:
                raise self._not_routed(request)
            else:
                status, data = await handler(request)
            return status, _dumps(data), "application/json", []
        except HttpError as exc:
            return exc.status, _error(exc.status, exc.code, exc.detail), "application/json", exc.headers
        except ControlPlaneError as exc:
            extra: dict[str, Any] = {}
            if isinstance(exc, TableInvalid):
                extra["problems"] = [asdict(p) for p in exc.problems]
            if isinstance(exc, StaleVersion):
                extra["current_version"] = exc.current
            return exc.status, _error(exc.status, exc.code, str(exc), **extra), "application/json", []
        except Exception:
            log.exception("admin %s %s failed", request.method, request.path)
            detail = "the admin API failed unexpectedly; the proxy's log has the details"
            return 500, _error(500, "internal_error", detail), "application/json", []

    def _authenticate(self, request: Request) -> None:
        if self._token is None:
            if _host_name(request.headers.get("host", "")) not in LOOPBACK_HOSTS:
                raise HttpError(403, "forbidden", "without a token the admin API answers only to a loopback Host")
            return
        challenge = [(b"www-authenticate", b'Bearer realm="strangler-admin"')]
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented:
            raise HttpError(
                401, "unauthorized", "send Authorization: Bearer <token> (the STRANGLER_ADMIN_TOKEN)", challenge
            )
        if not hmac.compare_digest(presented.strip().encode(), self._token):
            raise HttpError(
                401, "unauthorized", "the bearer token is not this proxy's STRANGLER_ADMIN_TOKEN", challenge
            )

    def _not_routed(self, request: Request) -> HttpError:
        allowed = sorted(m for m, p in self.routes if p == request.path)
        if allowed:
            allow = ", ".join(allowed).encode()
            return HttpError(
                405, "method_not_allowed", f"{request.path} accepts {', '.join(allowed)}", [(b"allow", allow)]
            )
        return HttpError(404, "not_found", f"no admin endpoint {request.path}; see GET /routes, /history, /metrics")

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

    async def get_version(self, version: int) -> tuple[int, Any]:
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
        expected, author, reason = _write_fields(body, request)
        fields = {k: v for k, v in body.items() if k not in WRITE_FIELDS}
        result = await asyncio.to_thread(
            lambda: route_set(self.store, fields=fields, expected_version=expected, author=author, reason=reason)
        )
        return self._committed(result)

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
        expected, author, reason = _write_fields(body, request)
        to_version = body.get("to_version")
        if to_version is not None and (not isinstance(to_version, int) or isinstance(to_version, bool)):
            raise TableInvalid([Problem("to_version", "must be a version number from GET /history")])
        result = await asyncio.to_thread(
            lambda: self.store.rollback(to_version=to_version, expected_version=expected, author=author, reason=reason)
        )
        return self._committed(result)

    def _committed(self, result: CommitResult) -> tuple[int, Any]:
        if result.changed and self.on_change is not None:
            self.on_change(result.table)
        return 200, {
            "version": result.version,
            "changed": result.changed,
            "diff": result.diff,
            "table": table_to_dict(result.table),
        }


def _write_fields(body: dict[str, Any], request: Request) -> tuple[int, str, str]:
    problems: list[Problem] = []
    expected = body.get("expected_version")
    if not isinstance(expected, int) or isinstance(expected, bool) or expected < 0:
        problems.append(Problem("expected_version", "is required: the version you read (GET /routes)"))
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        problems.append(Problem("reason", "is required: say why, for the audit log"))
    author = body.get("author")
    if author is not None and (not isinstance(author, str) or not author.strip() or len(author) > 200):
        problems.append(Problem("author", "must be a short non-empty string naming who makes the change"))
    if problems:
        raise TableInvalid(problems)
    client = request.scope.get("client") or ("unknown", 0)
    assert isinstance(expected, int) and isinstance(reason, str)
    return expected, (author or f"anonymous@{client[0]}").strip(), reason.strip()


def _upstream_name(body: dict[str, Any]) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise TableInvalid([Problem("name", "is required: the upstream's name, e.g. catalog")])
    return name


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0]


def _dumps(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


def _error(status: int, code: str, detail: str, **extra: Any) -> bytes:
    return _dumps({"error": code, "status": status, "detail": detail, "producer": PRODUCER, **extra})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
