"""The ASGI proxy app: route, pick the upstream for the route's stage, forward streaming both ways.

    app = ProxyApp(table, ProxySettings.from_env())
    app.set_table(new_table)      # atomic: a request sees exactly one table, start to end
    app.metrics_text()            # Prometheus exposition for the admin listener's /metrics
    app.shadow.on_shadow(cb)      # mirrored (request, monolith response, service response) for the comparator

Which upstream answers (`stages.decide`):

=========  ==========================================  ============================================
stage      safe request (GET, HEAD, OPTIONS)           unsafe request
=========  ==========================================  ============================================
(none)     default upstream (monolith)                 default upstream
off        monolith                                    monolith
shadow     monolith; mirrored to the service           monolith; mirrored only if `mirror_unsafe`
canary     service if the client's bucket < percent    monolith (system of record); the client is
           and it is not pinned, else monolith         then pinned to the monolith for `pin_seconds`
live       service                                     service
=========  ==========================================  ============================================

An unsafe request that goes to the monolith on an off, shadow or canary route pins its client to the monolith
for that service's canary reads during the route's `pin_seconds` (read-your-writes; per replica, see `pinning`).

A safe request whose service fails before answering (refused, timeout, broken, breaker open, overloaded) on a
canary or live route is served by the monolith instead (counted as a fallback). Idempotent requests without a
body are retried (`ProxySettings.retries`) on a refused connect or a connection that broke before the response
head; nothing is retried once a response byte has reached the client. Errors the proxy produces are JSON with
``"producer": "strangler-proxy"``: 400 for a path that cannot be canonicalised, 502 refused/broken, 503 breaker
open or overloaded, 504 timeout. A failure after the response started cuts the client connection (the client
sees a truncated response, never a spliced one).

Note for the control plane: `set_table` raises `routing.InvalidRouteTable` for a table it cannot serve; call
`routing.validate_table` before storing one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

from strangler_proxy.dataplane import access_log
from strangler_proxy.dataplane.health import Health, check_all
from strangler_proxy.dataplane.identity import (
    ForwardAuth,
    ForwardAuthUnavailable,
    IdentitySigner,
    Refusal,
    with_identity,
)
from strangler_proxy.dataplane.metrics import CONTENT_TYPE, ProxyMetrics
from strangler_proxy.dataplane.model import SAFE_METHODS, RouteTable, Upstream
from strangler_proxy.dataplane.pinning import PinStore
from strangler_proxy.dataplane.routing import Router, canonicalise, validate_table
from strangler_proxy.dataplane.settings import ProxySettings
from strangler_proxy.dataplane.shadow import CapturedResponse, MirroredRequest, ShadowPool
from strangler_proxy.dataplane.stages import DEFAULT_ROUTE, decide
from strangler_proxy.errors import (
    BadRequestPath,
    ProxyError,
    UpstreamBroken,
    UpstreamConnectError,
    UpstreamError,
    error_body,
)
from strangler_proxy.http.asgi import Message, Receive, Scope, Send
from strangler_proxy.http.breaker import BreakerState
from strangler_proxy.http.client import ClientGone, UpstreamPool, UpstreamResponse
from strangler_proxy.http.headers import Headers, downstream_response_headers, upstream_request_headers
from strangler_proxy.http.protocol import ClientDisconnected

log = logging.getLogger("strangler.proxy")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class _State:
    __slots__ = ("router", "table")

    def __init__(self, table: RouteTable, router: Router) -> None:
        self.table = table
        self.router = router


class ProxyApp:
    def __init__(
        self, table: RouteTable, settings: ProxySettings | None = None, *, identity: IdentitySigner | None = None
    ) -> None:
        self.settings = settings or ProxySettings()
        self.settings.validate()
        self.metrics = ProxyMetrics()
        self.pins = PinStore(self.settings.pin_max_clients)
        self._pools: dict[Upstream, UpstreamPool] = {}
        self._shadow_pools: dict[Upstream, UpstreamPool] = {}
        self._signer = identity
        self._forward_auth: ForwardAuth | None = None
        self._state: _State
        self.set_table(table)
        self.shadow = ShadowPool(
            workers=self.settings.shadow_workers,
            queue_size=self.settings.shadow_queue,
            ring_size=self.settings.shadow_ring,
            body_limit=self.settings.shadow_body_limit,
            metrics=self.metrics,
            pool_for=self._shadow_pool,
        )

    # control-plane surface
    @property
    def table(self) -> RouteTable:
        return self._state.table

    def set_table(self, table: RouteTable) -> None:
        """Swap in a new route table atomically; raises `InvalidRouteTable` and keeps the old one if it is bad.

        Call it on the event loop's thread (from another thread: `loop.call_soon_threadsafe(app.set_table, t)`).
        Requests in flight finish on the table they started with.
        """
        validate_table(table)
        self._state = _State(table, Router(table))
        self.metrics.table_version.set(table.version)
        live = set(table.upstreams.values())
        for pools in (self._pools, self._shadow_pools):
            for upstream in [u for u in pools if u not in live]:
                pool = pools.pop(upstream)
                if pool.open_connections:
                    pool.loop.create_task(pool.close())

    def metrics_text(self) -> bytes:
        return self.metrics.text()

    metrics_content_type = CONTENT_TYPE

    async def close(self) -> None:
        await self.shadow.close()
        if self._forward_auth is not None:
            await self._forward_auth.close()
        for pools in (self._pools, self._shadow_pools):
            for pool in pools.values():
                await pool.close()
            pools.clear()

    # pools
    def _pool(self, name: str, table: RouteTable | None = None) -> UpstreamPool:
        """The pool for upstream `name` as `table` (the request's own, which a swap may have replaced) defines it."""
        upstream = (table or self._state.table).upstreams[name]
        pool = self._pools.get(upstream)
        if pool is None:
            pool = self._pools[upstream] = self._new_pool(upstream)
        return pool

    def _shadow_pool(self, name: str) -> UpstreamPool | None:
        upstream = self._state.table.upstreams.get(name)
        if upstream is None:
            return None
        pool = self._shadow_pools.get(upstream)
        if pool is None:
            limited = Upstream(
                name=upstream.name,
                url=upstream.url,
                connect_timeout=upstream.connect_timeout,
                read_timeout=upstream.read_timeout,
                max_connections=self.settings.shadow_workers,
                max_pending=self.settings.shadow_queue,
                health_path=upstream.health_path,
            )
            pool = self._shadow_pools[upstream] = self._new_pool(limited)
        return pool

    def _new_pool(self, upstream: Upstream) -> UpstreamPool:
        self.metrics.breaker_state(upstream.name, int(BreakerState.CLOSED))
        return UpstreamPool(
            upstream,
            chunk=self.settings.stream_chunk,
            breaker_failures=self.settings.breaker_failures,
            breaker_cooldown=self.settings.breaker_cooldown,
            on_breaker_change=self._breaker_changed,
        )

    def _breaker_changed(self, upstream: str, state: BreakerState) -> None:
        self.metrics.breaker_state(upstream, int(state))
        log.warning("circuit breaker of %s is now %s", upstream, state.name.lower())

    async def check_health(self) -> list[Health]:
        """GET each upstream's `health_path` now (see `health.py`)."""
        return await check_all([self._pool(name) for name in self._state.table.upstreams])

    def breaker_states(self) -> dict[str, str]:
        return {u.name: p.breaker.state.name.lower() for u, p in self._pools.items()}

    # ASGI
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            shadow = self.shadow
            shadow.client_started()
            try:
                await self._handle(scope, receive, send)
            finally:
                shadow.client_finished()
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        state = self._state
        settings = self.settings
        method: str = scope["method"]
        client = scope.get("client")
        peer = client[0] if client else ""
        headers: Headers = scope["headers"]
        out_headers, who = upstream_request_headers(
            headers,
            peer=peer,
            scheme=scope.get("scheme", "http"),
            trusted=settings.trusted_proxies,
            via_name=settings.via_name,
        )
        request_id = who.request_id
        log_fields: dict[str, object] = {"request_id": request_id, "method": method, "client": who.client_ip}
        try:
            path = canonicalise(scope["raw_path"] or scope["path"].encode())
        except BadRequestPath as exc:
            await self._send_error(send, exc, request_id)
            self._finish(log_fields, started, DEFAULT_ROUTE, "none", "proxy", exc.status, 0, error=exc.code)
            return
        log_fields["path"] = path
        query: bytes = scope.get("query_string", b"")
        target = path.encode() + (b"?" + query if query else b"")
        decision = decide(state.table, state.router, self.pins, method, path, headers, who.client_ip)
        if self._signer is not None and decision.upstream != state.table.default_upstream:
            identified = await self._identify(state.table, method, target, out_headers, send, request_id)
            if isinstance(identified, tuple):  # refused or unavailable: the answer is already sent
                refused_status, refused_sent, refused_error = identified
                self._finish(
                    log_fields,
                    started,
                    decision.route_label,
                    decision.stage,
                    state.table.default_upstream,
                    refused_status,
                    refused_sent,
                    error=refused_error,
                )
                return
            out_headers = identified

        has_body = False
        chunked = False
        for name, value in headers:
            if name == b"content-length":
                has_body = value != b"0"
            elif name == b"transfer-encoding":
                has_body = chunked = True
        mirror_to = decision.mirror_to if decision.mirror_to and self.shadow.has_room() else None
        if decision.mirror_to and mirror_to is None:
            self.metrics.shadow(decision.route_label, "dropped_queue_full")
        captured_request: bytearray | None = bytearray() if mirror_to and has_body else None
        body_state = _BodyState()

        async def body() -> AsyncIterator[bytes]:
            body_state.touched = True
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone()
                chunk: bytes = message.get("body", b"")
                if chunk:
                    if captured_request is not None and not body_state.too_large:
                        if len(captured_request) + len(chunk) > self.shadow.body_limit:
                            body_state.too_large = True
                        else:
                            captured_request.extend(chunk)
                    yield chunk
                if not message.get("more_body", False):
                    body_state.complete = True
                    return

        upstream_name = decision.upstream
        retries = 0
        fell_back = False
        safe = method in SAFE_METHODS
        retryable = method in IDEMPOTENT_METHODS and not has_body
        while True:
            try:
                pool = self._pool(upstream_name, state.table)
                response = await pool.request(
                    method, target, out_headers, body=body() if has_body else None, chunked=chunked
                )
                break
            except ClientGone:
                self._finish(
                    log_fields,
                    started,
                    decision.route_label,
                    decision.stage,
                    upstream_name,
                    499,
                    0,
                    error="client_gone",
                )
                return
            except UpstreamError as exc:
                self.metrics.upstream_error(upstream_name, exc.code)
                if retryable and retries < settings.retries and isinstance(exc, (UpstreamConnectError, UpstreamBroken)):
                    retries += 1
                    self.metrics.retry(upstream_name)
                    continue
                if decision.fallback and safe and not fell_back and not body_state.touched:
                    fell_back = True
                    self.metrics.fallback(decision.route_label)
                    log_fields["fallback_from"] = upstream_name
                    log_fields["fallback_reason"] = exc.code
                    upstream_name = decision.fallback
                    retries = 0
                    continue
                await self._send_error(send, exc, request_id)
                self._finish(
                    log_fields,
                    started,
                    decision.route_label,
                    decision.stage,
                    upstream_name,
                    exc.status,
                    0,
                    error=exc.code,
                    retries=retries,
                )
                if decision.pin_key is not None and decision.route is not None:
                    self.pins.pin(decision.route.service, decision.pin_key, decision.route.pin_seconds)
                return

        if decision.pin_key is not None and decision.route is not None:
            self.pins.pin(decision.route.service, decision.pin_key, decision.route.pin_seconds)
        captured_response: bytearray | None = bytearray() if mirror_to else None
        try:
            status, sent, error = await self._relay(response, send, captured_response)
        except _Truncated as exc:
            self._finish(
                log_fields,
                started,
                decision.route_label,
                decision.stage,
                upstream_name,
                response.status,
                exc.sent,
                error=exc.code,
                retries=retries,
                fallback=fell_back,
            )
            raise
        self._finish(
            log_fields,
            started,
            decision.route_label,
            decision.stage,
            upstream_name,
            status,
            sent,
            error=error,
            retries=retries,
            fallback=fell_back,
        )
        if mirror_to and error is None and not fell_back:  # a fallback answer is the monolith's own
            if body_state.too_large:
                self.metrics.shadow(decision.route_label, "skipped_body_too_large")
                return
            if has_body and not body_state.complete:
                self.metrics.shadow(decision.route_label, "skipped_body_incomplete")
                return
            assert captured_response is not None
            self.shadow.submit(
                MirroredRequest(
                    request_id=request_id,
                    route=decision.route_label,
                    service=mirror_to,
                    method=method,
                    target=target,
                    headers=[h for h in out_headers if h[0] != b"content-length"]
                    + (
                        [(b"content-length", str(len(captured_request)).encode())]
                        if captured_request is not None
                        else []
                    ),
                    body=bytes(captured_request or b""),
                    chunked=False,
                ),
                CapturedResponse(
                    status=response.status,
                    headers=response.headers,
                    body=bytes(captured_response[: self.shadow.body_limit]),
                    truncated=len(captured_response) > self.shadow.body_limit,
                    seconds=time.perf_counter() - started,
                ),
            )

    async def _relay(
        self, response: UpstreamResponse, send: Send, capture: bytearray | None
    ) -> tuple[int, int, str | None]:
        """Stream the upstream response to the client; returns (status, body bytes sent, error code or None)."""
        sent = 0
        limit = self.shadow.body_limit + 1
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": downstream_response_headers(response.headers),
                }
            )
            whole = response.complete_body()
            if whole is not None:
                response.release()  # before the write: the connection is free for the next request at once
                if capture is not None:
                    capture.extend(whole[:limit])
                await send({"type": "http.response.body", "body": whole, "more_body": False})
                return response.status, len(whole), None
            async for chunk in response.chunks():
                if capture is not None and len(capture) < limit:
                    capture.extend(chunk[: limit - len(capture)])
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                sent += len(chunk)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (ClientDisconnected, ConnectionError):
            response.release()
            return 499, sent, "client_gone"
        except UpstreamError as exc:
            response.release()
            self.metrics.upstream_error(exc.upstream, exc.code)
            raise _Truncated(exc, sent) from exc
        response.release()
        return response.status, sent, None

    def _finish(
        self,
        fields: dict[str, object],
        started: float,
        route: str,
        stage: str,
        upstream: str,
        status: int,
        sent: int,
        *,
        error: str | None = None,
        retries: int = 0,
        fallback: bool = False,
    ) -> None:
        seconds = time.perf_counter() - started
        self.metrics.observe(route, stage, upstream, status, seconds)
        if self.settings.access_log and access_log.enabled():
            access_log.emit(
                **fields,
                status=status,
                route=route,
                stage=stage,
                upstream=upstream,
                fallback=fallback,
                retries=retries,
                duration_ms=round(seconds * 1000, 3),
                bytes_out=sent,
                error=error,
            )

    async def _identify(
        self, table: RouteTable, method: str, target: bytes, out_headers: Headers, send: Send, request_id: str
    ) -> Headers | tuple[int, int, str]:
        """Forward auth for a request a service will answer: the headers with a signed identity, or, when the
        monolith refuses the credentials (or cannot be asked), (status, bytes sent, error) of the answer sent."""
        assert self._signer is not None
        monolith = table.upstreams[table.default_upstream].url
        if self._forward_auth is None or self._forward_auth.monolith_url != monolith:
            if self._forward_auth is not None:
                await self._forward_auth.close()
            self._forward_auth = ForwardAuth.from_env(monolith)
        try:
            answer = await self._forward_auth.resolve(method, target, out_headers)
        except ForwardAuthUnavailable as exc:
            await self._send_error(send, exc, request_id)
            return exc.status, 0, exc.code
        if isinstance(answer, Refusal):
            length = (b"content-length", str(len(answer.body)).encode())
            await send({"type": "http.response.start", "status": answer.status, "headers": [*answer.headers, length]})
            await send({"type": "http.response.body", "body": answer.body})
            return answer.status, len(answer.body), "identity_refused"
        return with_identity(out_headers, self._signer, answer)

    async def _send_error(self, send: Send, exc: ProxyError, request_id: str) -> None:
        detail = exc.detail if isinstance(exc, UpstreamError) else str(exc)
        body = error_body(exc.status, exc.code, detail, request_id)
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": exc.status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
        except (ClientDisconnected, ConnectionError):
            pass


class _BodyState:
    __slots__ = ("complete", "too_large", "touched")

    def __init__(self) -> None:
        self.touched = False  # reading began: the request can no longer be replayed elsewhere
        self.too_large = False  # over the shadow body limit: not mirrored
        self.complete = False  # read to its end (an upstream that answered early may leave it unread)


class _Truncated(ProxyError):
    """The upstream failed after the response started: the client connection is cut."""

    code = "upstream_broken_mid_response"

    def __init__(self, cause: UpstreamError, sent: int) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.sent = sent
