"""Strangler's comparator endpoint for another data plane's mirrors (nginx `mirror`, a Gateway's `RequestMirror`).

    intake = MirrorIntake(app)          # the proxy's ProxyApp: its table, shadow pool and comparator
    server = ProxyServer(public_app=intake, host=..., port=...)   # `strangler proxy` with STRANGLER_MIRROR_LISTEN

A mirrored request is answered at once (202 when it will be compared, 204 when not), so the edge never waits on
it. Then, Diffy-style, the intake asks the monolith itself (marked ``X-Strangler-Shadow: 1``) and offers that
answer with the request to the app's shadow pool, which asks the service (with the identity the proxy would sign)
and hands both answers to the comparator: the same comparison, noise learning, gates and mismatch store as the
proxy's own shadow traffic. Only safe requests on `shadow` routes of the intake's own route table are compared: an
unsafe one would be sent to the monolith a second time. At most `MAX_IN_FLIGHT` monolith requests run at once;
beyond that mirrors are dropped and counted (`strangler_shadow_total{outcome="dropped_queue_full"}`).
"""

from __future__ import annotations

import asyncio
import logging

from strangler_proxy.compare.monolith_asker import MonolithAsker
from strangler_proxy.dataplane.app import ProxyApp
from strangler_proxy.dataplane.model import SAFE_METHODS, Route, Stage
from strangler_proxy.dataplane.routing import Router, canonicalise
from strangler_proxy.dataplane.shadow import SHADOW_HEADER, MirroredRequest
from strangler_proxy.errors import BadRequestPath
from strangler_proxy.http.asgi import Receive, Scope, Send
from strangler_proxy.http.headers import HOP_BY_HOP, Headers

log = logging.getLogger("strangler.compare.intake")

MAX_IN_FLIGHT = 64
SERVICE_HEADER = b"x-strangler-mirror-service"  # what the edge believed (logged when it disagrees)
_DROPPED = HOP_BY_HOP | {b"content-length", b"expect", SERVICE_HEADER, SHADOW_HEADER[0]}


class MirrorIntake:
    def __init__(self, app: ProxyApp) -> None:
        self.app = app
        self._router: tuple[int, Router] | None = None
        self._asker = MonolithAsker(app)
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = await _read_body(receive, self.app.shadow.body_limit)
        route = self._route(scope)
        method: str = scope["method"]
        compare = (
            body is not None
            and route is not None
            and route.stage is Stage.SHADOW
            and method in SAFE_METHODS
            and route.service != self.app.table.default_upstream
        )
        await _answer(send, 202 if compare else 204)
        if not compare or route is None or body is None:
            return
        if len(self._tasks) >= MAX_IN_FLIGHT:
            self.app.metrics.shadow(route.path, "dropped_queue_full")
            return
        task = asyncio.get_running_loop().create_task(self._compare(scope, route, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _route(self, scope: Scope) -> Route | None:
        table = self.app.table
        if self._router is None or self._router[0] != table.version:
            self._router = (table.version, Router(table))
        raw = scope.get("raw_path") or scope["path"].encode()
        try:
            path = canonicalise(raw.partition(b"?")[0])
        except BadRequestPath:
            return None
        match = self._router[1].match(scope["method"], path)
        return match.route if match is not None else None

    async def _compare(self, scope: Scope, route: Route, body: bytes) -> None:
        headers: Headers = [(n.lower(), v) for n, v in scope["headers"] if n.lower() not in _DROPPED]
        believed = next((v for n, v in scope["headers"] if n.lower() == SERVICE_HEADER), None)
        if believed is not None and believed.decode("latin-1") != route.service:
            log.info(
                "mirror for %s: the edge mirrored to %r, the route table says %r", route.path, believed, route.service
            )
        request_id = next((v.decode("latin-1") for n, v in headers if n == b"x-request-id"), "")
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string") or b""
        target = raw_path if b"?" in raw_path or not query else raw_path + b"?" + query
        request = MirroredRequest(
            request_id=request_id,
            route=route.path,
            route_revision=self.app.route_revision(route) or 0,
            service=route.service,
            method=scope["method"],
            target=target,
            headers=headers,
            body=body,
        )
        primary = await self._asker.ask(request, why="mirror")
        if primary is None:
            self.app.metrics.shadow(route.path, "failed")
            return
        self.app.shadow.submit(request, primary)

    async def drain(self) -> None:
        """Wait until every mirror taken so far reached the shadow pool (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        await self._asker.close()


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None when it is longer than `limit` (not compared, like the proxy's own)."""
    body = bytearray()
    too_long = False
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        if not too_long:
            body += message.get("body", b"")
            too_long = len(body) > limit
        if not message.get("more_body", False):
            return None if too_long else bytes(body)


async def _answer(send: Send, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
