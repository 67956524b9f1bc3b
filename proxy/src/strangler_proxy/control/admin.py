"""The admin API's ASGI app: JSON only, served on its own listener (never the public one), with one token, one error
shape and one way to add endpoints.

    admin = AdminApp(token=token, metrics=lambda: (app.metrics_text(), app.metrics_content_type))
    admin.add("GET", "/holds", handler)           # handler: async (Request) -> (status, JSON-able data)
    admin.add("GET", "/versions/{version}", h)    # a {name} segment is request.params["name"]

`GET /healthz` (no token) and `GET /metrics` (the data plane's Prometheus text) come with every app; the endpoint
groups register themselves with `add`: the route table's (`route_endpoints.py`), the cutover's
(`cutover_endpoints.py`) and the comparison's (`compare_endpoints.py`).

    admin.mount("/console", console_app)          # an ASGI app that authenticates its own requests (the console)
    status, data = await admin.call("GET", "/routes")   # an endpoint called in-process, by a trusted caller

Every endpoint except /healthz needs `Authorization: Bearer <STRANGLER_ADMIN_TOKEN>`, compared with
hmac.compare_digest. A handler raises a `StranglerError` to answer with its status and the one error body
(`errors.error_body`, `"producer": "strangler-admin"`), plus `problems` for a `TableInvalid` and `current_version`
for a `StaleVersion`; anything else is a 500 whose details go to the log only.

Without a token (the dev mode runtime allows only on loopback) requests must carry a loopback Host header, so a
web page in the operator's browser cannot reach the API through DNS rebinding.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from strangler_proxy.errors import (
    ADMIN_PRODUCER,
    RequestRefused,
    StaleVersion,
    StranglerError,
    TableInvalid,
    error_body,
)
from strangler_proxy.http.asgi import Receive, Scope, Send

MAX_BODY = 1 << 20
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
PARAMETER = re.compile(r"\{([a-z_]+)\}")

log = logging.getLogger("strangler_proxy.admin")


class Request:
    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self.params: dict[str, str] = {}  # the {name} segments of the endpoint's path
        self.body: dict[str, Any] | None = None  # the JSON body, once json() has read it

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
            raise RequestRefused(
                415, "unsupported_media_type", "send the body as JSON with Content-Type: application/json"
            )
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                raise RequestRefused(413, "body_too_large", f"the body is over {MAX_BODY} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        try:
            data = json.loads(b"".join(chunks) or b"null")
        except ValueError as exc:
            raise RequestRefused(400, "invalid_json", f"the body is not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise RequestRefused(400, "invalid_json", "the body must be a JSON object")
        self.body = dict(data)
        return data


Handler = Callable[[Request], Awaitable[tuple[int, Any]]]
# (method, path, request body, answer) of every change the API made, told after it answered it with 2xx
Observer = Callable[[str, str, dict[str, Any] | None, Any], None]


class AdminApp:
    def __init__(self, *, token: str | None, metrics: Callable[[], tuple[bytes, str]] | None = None) -> None:
        """`token=None` disables auth (dev mode); `metrics` gives the body and content type of GET /metrics."""
        self._token = token.encode() if token is not None else None
        self.metrics = metrics
        self._endpoints: dict[tuple[str, str], Handler] = {}
        self._patterns: list[tuple[str, str, re.Pattern[str], Handler]] = []
        self._mounts: dict[str, Any] = {}
        self._observers: list[Observer] = []

    def observe(self, observer: Observer) -> None:
        """Tell `observer` of every successful write (any method but GET): the console follows a handover's steps
        (hold, owner change, route change, release) from the calls the engine makes, at the moment they happen."""
        self._observers.append(observer)

    def mount(self, prefix: str, app: Any) -> None:
        """Hand every request under `prefix` (`/console`, `/console/...`) to the ASGI `app`, which authenticates them
        itself: the bearer token is not asked for there (a browser cannot send it), so `app` must ask for something."""
        if not prefix.startswith("/") or prefix.endswith("/") or prefix in self._mounts:
            raise ValueError(f"cannot mount {prefix!r}: give a new path such as /console")
        self._mounts[prefix] = app

    def token_matches(self, presented: str) -> bool:
        """Whether `presented` is this API's token (constant time); never true without a token (dev mode)."""
        if self._token is None or not presented:
            return False
        return hmac.compare_digest(presented.encode(), self._token)

    async def call(
        self, method: str, path: str, *, query: str = "", body: dict[str, Any] | None = None, client: str = "console"
    ) -> tuple[int, Any]:
        """Run the endpoint at METHOD PATH in-process for a caller that authenticated itself (the console): the
        answer it would give over HTTP, as (status, decoded JSON), errors included in the one error body."""
        payload = json.dumps(body).encode() if body is not None else b""
        scope: Scope = {
            "type": "http",
            "method": method,
            "path": path,
            "query_string": query.encode("latin-1"),
            "headers": [(b"content-type", b"application/json"), (b"host", b"127.0.0.1")],
            "client": (client, 0),
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": payload, "more_body": False}

        request = Request(scope, receive)
        try:
            answer = await self._route(request)(request)
        except StranglerError as exc:
            return exc.status, json.loads(_error(exc))
        self._tell(request, *answer)
        return answer

    def add(self, method: str, path: str, handler: Handler) -> None:
        """Serve `handler` at METHOD PATH, behind the token; a `{name}` segment matches one path segment."""
        if (method, path) in self._endpoints or any((m, p) == (method, path) for m, p, _, _ in self._patterns):
            raise ValueError(f"the admin API already has {method} {path}")
        if PARAMETER.search(path):
            pattern = re.compile("^" + PARAMETER.sub(r"(?P<\1>[^/]+)", path) + "$")
            self._patterns.append((method, path, pattern, handler))
        else:
            self._endpoints[(method, path)] = handler

    def endpoints(self) -> list[tuple[str, str]]:
        """(method, path) of every endpoint added, in order."""
        return [*self._endpoints, *((m, p) for m, p, _, _ in self._patterns)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        mounted = self._mounted(scope["path"])
        if mounted is not None:
            await mounted(scope, receive, send)
            return
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
                alive = _dumps({"status": "ok", "producer": ADMIN_PRODUCER})
                return 200, alive, "application/json", []
            self._authenticate(request)
            if request.path == "/metrics" and request.method == "GET":
                if self.metrics is None:
                    raise RequestRefused(404, "not_found", "this admin API has no metrics registry")
                body, content_type = self.metrics()
                return 200, body, content_type, []
            status, data = await self._route(request)(request)
            body = _dumps(data)
            self._tell(request, status, data)
        except RequestRefused as exc:
            refusal = _error(exc)
            return exc.status, refusal, "application/json", exc.headers
        except StranglerError as exc:
            error = _error(exc)
            return exc.status, error, "application/json", []
        except Exception:
            log.exception("admin %s %s failed", request.method, request.path)
            detail = "the admin API failed unexpectedly; the proxy's log has the details"
            body = error_body(500, "internal_error", detail, producer=ADMIN_PRODUCER) + b"\n"
            return 500, body, "application/json", []
        return status, body, "application/json", []

    def _tell(self, request: Request, status: int, data: Any) -> None:
        if request.method == "GET" or not 200 <= status < 300:
            return
        for observer in self._observers:
            try:
                observer(request.method, request.path, request.body, data)
            except Exception:  # an observer's bug must not turn a change that was made into an error
                log.exception("admin observer failed on %s %s", request.method, request.path)

    def _mounted(self, path: str) -> Any:
        for prefix, app in self._mounts.items():
            if path == prefix or path.startswith(prefix + "/"):
                return app
        return None

    def _route(self, request: Request) -> Handler:
        handler = self._endpoints.get((request.method, request.path))
        if handler is not None:
            return handler
        allowed = sorted(m for m, p in self._endpoints if p == request.path)
        for method, _, pattern, candidate in self._patterns:
            match = pattern.match(request.path)
            if match is None:
                continue
            if method == request.method:
                request.params = match.groupdict()
                return candidate
            allowed.append(method)
        if allowed:
            allow = ", ".join(sorted(allowed))
            raise RequestRefused(
                405, "method_not_allowed", f"{request.path} accepts {allow}", [(b"allow", allow.encode())]
            )
        raise RequestRefused(404, "not_found", f"no admin endpoint {request.path}; see GET /routes, /history, /metrics")

    def _authenticate(self, request: Request) -> None:
        if self._token is None:
            if _host_name(request.headers.get("host", "")) not in LOOPBACK_HOSTS:
                raise RequestRefused(403, "forbidden", "without a token the admin API answers only to a loopback Host")
            return
        challenge = [(b"www-authenticate", b'Bearer realm="strangler-admin"')]
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented:
            raise RequestRefused(
                401, "unauthorized", "send Authorization: Bearer <token> (the STRANGLER_ADMIN_TOKEN)", challenge
            )
        if not hmac.compare_digest(presented.strip().encode(), self._token):
            raise RequestRefused(
                401, "unauthorized", "the bearer token is not this proxy's STRANGLER_ADMIN_TOKEN", challenge
            )


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0]


def _dumps(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


def _error(exc: StranglerError) -> bytes:
    extra: dict[str, Any] = {}
    if isinstance(exc, TableInvalid):
        extra["problems"] = [asdict(p) for p in exc.problems]
    if isinstance(exc, StaleVersion):
        extra["current_version"] = exc.current
    detail = exc.detail if isinstance(exc, RequestRefused) else str(exc)
    return error_body(exc.status, exc.code, detail, producer=ADMIN_PRODUCER, **extra) + b"\n"


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
