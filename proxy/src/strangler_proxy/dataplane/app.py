"""The ASGI proxy app: route, pick the upstream for the route's stage, forward streaming both ways.

    app = ProxyApp(table, settings)   # a ProxySettings (`strangler proxy` passes its Settings.proxy)
    app.set_table(new_table)          # atomic: a request sees exactly one table, start to end
    app.metrics_text()                # Prometheus exposition for the admin listener's /metrics
    app.shadow.on_shadow(cb)          # mirrored (request, monolith response, service response) for the comparator
    app.owners.set("catalog", "service")   # the control plane: who owns a spec's data (`data_owners.py`)

Each request is a pipeline over its `Exchange` (`exchange.py`): route and decide, identify the client when a
service answers (`identity.py`), forward with retries and fallback, relay the answer, mirror it; `_finish` records
every outcome once (a metric sample and an access-log line).

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

That unsafe column holds while the stage agrees with the data: on a route that declares `data = "<spec>"`, an
unsafe request goes to the side that owns the spec's data (`owners`, committed by the control plane under a write
hold), whatever the stage says. A write pins its client to the side that took it for the route's `pin_seconds`,
and a pinned client's reads on canary and live routes go there too (read-your-writes; per replica, see
`pinning`); a write to the service on a live route pins nothing.

A safe request whose service fails before answering (refused, timeout, broken, breaker open, overloaded) on a
canary or live route is served by the monolith instead (counted as a fallback). Idempotent requests without a
body are retried (`ProxySettings.retries`) on a refused connect or a connection that broke before the response
head; nothing is retried once a response byte has reached the client. Errors the proxy produces are JSON with
``"producer": "strangler-proxy"``: 400 for a path that cannot be canonicalised, 508 for a request whose ``Via``
already names this proxy (a loop), 502 refused/broken, 503 breaker open or overloaded, 504 timeout. A failure
after the response started cuts the client connection (the client sees a truncated response, never a spliced
one). A request body is asked for only once the request is routed and identified, and its start (all of a body
within the server's buffer) is read before any upstream is called.

Note for the control plane: `set_table` raises `TableInvalid` for a table that breaks a rule of `table_rules`,
the one validator the control plane runs before it stores a table.
"""

from __future__ import annotations

import logging
import time
from typing import ClassVar

from strangler_proxy.dataplane import access_log
from strangler_proxy.dataplane.cohort import sticky_key
from strangler_proxy.dataplane.data_owners import DataOwners
from strangler_proxy.dataplane.error_response import send_error_response
from strangler_proxy.dataplane.exchange import Exchange
from strangler_proxy.dataplane.health import Health, check_all
from strangler_proxy.dataplane.identity import IDENTITY_HEADER, ForwardAuth, IdentitySigner, Refusal, with_identity
from strangler_proxy.dataplane.metrics import CONTENT_TYPE, ProxyMetrics
from strangler_proxy.dataplane.model import Route, RouteTable, Upstream, route_label
from strangler_proxy.dataplane.pinning import PinStore, SharedPins
from strangler_proxy.dataplane.routing import Router, canonicalise
from strangler_proxy.dataplane.settings import ProxySettings
from strangler_proxy.dataplane.shadow import CapturedResponse, MirroredRequest, ShadowPool
from strangler_proxy.dataplane.stages import Decision, decide
from strangler_proxy.dataplane.table_rules import validate_table
from strangler_proxy.errors import (
    BadRequestPath,
    ClientDisconnected,
    ForwardAuthUnavailable,
    LoopDetected,
    ProxyError,
    UpstreamBroken,
    UpstreamConnectError,
    UpstreamError,
)
from strangler_proxy.http.asgi import Receive, Scope, Send
from strangler_proxy.http.breaker import BreakerState
from strangler_proxy.http.client import UpstreamPool, UpstreamResponse
from strangler_proxy.http.headers import HOP_BY_HOP, Headers, connection_tokens
from strangler_proxy.http.request_cycle import RequestCycle

log = logging.getLogger("strangler.proxy")
# What of an upstream's response head never reaches the client: hop-by-hop headers (and those its `Connection`
# names, see `http.headers.downstream_response_headers`), and its request id (the proxy sets the one it logged).
_NOT_ANSWERED = HOP_BY_HOP | {b"x-request-id"}
_TRUNCATED = "upstream_broken_mid_response"  # the error code of a response cut mid-way


class _State:
    __slots__ = ("by_route", "pools", "revisions", "router", "table")

    def __init__(self, table: RouteTable, router: Router, revisions: Revisions) -> None:
        self.table = table
        self.router = router
        self.revisions = revisions
        # per request, without a label to build and two routes to compare: the revision of each route object the
        # state holds (alive as long as the state, so their ids are theirs), and each upstream's pool by name
        self.by_route = {id(route): revision for route, revision in revisions.values()}
        self.pools: dict[str, UpstreamPool] = {}

    def revision(self, route: Route) -> int | None:
        revision = self.by_route.get(id(route))
        if revision is not None:
            return revision
        entry = self.revisions.get(route_label(route))
        return entry[1] if entry is not None and entry[0] == route else None


# Each route (by its label) as it is now, and its revision: the table version since which it has been so.
Revisions = dict[str, tuple[Route, int]]


def route_revisions(table: RouteTable, before: Revisions) -> Revisions:
    """A route keeps its revision while it stays exactly as it was; any change to it (its stage, its share, its
    settings) makes the new table's version its revision. Evidence is only ever counted for one revision."""
    revisions: Revisions = {}
    for route in table.routes:
        label = route_label(route)
        kept = before.get(label)
        revisions[label] = (route, kept[1] if kept is not None and kept[0] == route else table.version)
    return revisions


class ProxyApp:
    def __init__(
        self, table: RouteTable, settings: ProxySettings | None = None, *, identity: IdentitySigner | None = None
    ) -> None:
        self.settings = settings or ProxySettings()
        self.settings.validate()
        self.metrics = ProxyMetrics()
        self.pins = PinStore(self.settings.pin_max_clients)
        self.shared_pins: SharedPins | None = None  # set when replicas share a store: pins every replica sees
        self.owners = DataOwners()
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
            ring_bytes=self.settings.shadow_ring_bytes,
            body_limit=self.settings.shadow_body_limit,
            metrics=self.metrics,
            pool_for=self._shadow_pool,
            prepare=self._mirror_headers,
        )

    # control-plane surface
    @property
    def table(self) -> RouteTable:
        return self._state.table

    def set_table(self, table: RouteTable) -> None:
        """Swap in a new route table atomically; raises `TableInvalid` and keeps the old one if it is bad.

        Call it on the event loop's thread (from another thread: `loop.call_soon_threadsafe(app.set_table, t)`).
        Requests in flight finish on the table they started with.
        """
        validate_table(table)
        before = self._state.revisions if hasattr(self, "_state") else {}
        self._state = _State(table, Router(table), route_revisions(table, before))
        self.metrics.table_version.set(table.version)
        live = set(table.upstreams.values())
        for pools in (self._pools, self._shadow_pools):
            for upstream in [u for u in pools if u not in live]:
                pool = pools.pop(upstream)
                if pool.open_connections:
                    pool.loop.create_task(pool.close())

    def route_revision(self, route: Route) -> int | None:
        """The revision of `route` in the table now serving (None: the table has no such route any more)."""
        return self._state.revision(route)

    def metrics_text(self) -> bytes:
        return self.metrics.text()

    metrics_content_type: ClassVar[str] = CONTENT_TYPE  # ClassVar: a class attribute when compiled too

    async def close(self) -> None:
        await self.shadow.close()
        if self._forward_auth is not None:
            await self._forward_auth.close()
        self._state.pools.clear()
        for pools in (self._pools, self._shadow_pools):
            for pool in pools.values():
                await pool.close()
            pools.clear()

    # pools
    def _pool(self, name: str, table: RouteTable | None = None) -> UpstreamPool:
        """The pool for upstream `name` as `table` (the request's own, which a swap may have replaced) defines it."""
        state = self._state
        current = table is None or table is state.table
        if current:
            pool = state.pools.get(name)
            if pool is not None:
                return pool
        upstream = (table or state.table).upstreams[name]
        pool = self._pools.get(upstream)
        if pool is None:
            pool = self._pools[upstream] = self._new_pool(upstream)
        if current:
            state.pools[name] = pool
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
            probe_interval=self.settings.breaker_probe_interval,
        )

    def _breaker_changed(self, upstream: str, state: BreakerState) -> None:
        self.metrics.breaker_state(upstream, int(state))
        log.warning("circuit breaker of %s is now %s", upstream, state.name.lower())

    async def check_health(self) -> list[Health]:
        """GET each upstream's `health_path` now (see `health.py`)."""
        table = self._state.table
        return await check_all([(upstream, self._pool(name, table)) for name, upstream in table.upstreams.items()])

    def breaker_states(self) -> dict[str, str]:
        return {u.name: p.breaker.state.name.lower() for u, p in self._pools.items()}

    # ASGI
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._handle(scope, receive, send)
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
        """One request, as a pipeline over its `Exchange`: route and decide; identify the client (when a service
        answers); forward, retrying or falling back; relay the answer; mirror it. Whichever way it ends, `_finish`
        records it, once."""
        shadow = self.shadow
        shadow.client_started()
        try:
            state = self._state
            x = Exchange(scope, state.table, state.router, self.settings)
            try:
                if x.loop_detected:
                    via = self.settings.via_name
                    loop = LoopDetected(f"the request's Via already names {via}: not forwarded again")
                    await self._send_error(x, send, loop)
                    return
                bad_path = self._route(x, scope, state)
                if bad_path is not None:
                    await self._send_error(x, send, bad_path)
                    return
                if self.shared_pins is not None:
                    await self._shared_pin(x, scope)
                if (
                    self._signer is not None
                    and x.upstream != x.table.default_upstream
                    and not await self._identify(x, send)
                ):
                    return
                if x.mirror_to is not None:
                    self._plan_mirror(x)
                if x.has_body:
                    # Routed and identified: only now is the body asked for (so 100 Continue goes out only now), and
                    # its start read (all of a small one) before an upstream is called, so that a slow client holds no
                    # upstream connection.
                    try:
                        await x.read_body_start(receive, self.shadow.body_limit)
                    except ClientDisconnected:
                        x.answered(499, 0, "client_gone")
                        return
                while True:
                    try:
                        response = await self._pool(x.upstream, x.table).request(
                            x.method,
                            x.target,
                            x.out_headers,
                            body=x.body(receive, self.shadow.body_limit) if x.has_body else None,
                            length=x.upstream_length if x.framed else None,  # (no property call for a GET)
                        )
                        break
                    except ClientDisconnected:
                        x.answered(499, 0, "client_gone")
                        return
                    except UpstreamError as exc:
                        if self._try_again(x, exc):
                            continue
                        if x.pin_key is not None:
                            await self._pin(x)
                        await self._send_error(x, send, exc)
                        return
                if x.pin_key is not None:
                    await self._pin(x)
                captured = bytearray() if x.mirror_to else None
                await self._relay(x, response, send, captured)
                if captured is not None:
                    self._mirror(x, response, captured)
            finally:
                if x.status:  # 0: a bug escaped before any answer; the server answers 500 and logs it
                    self._finish(x)
        finally:
            shadow.client_finished()

    # the pipeline's steps
    def _route(self, x: Exchange, scope: Scope, state: _State) -> BadRequestPath | None:
        try:
            path = canonicalise(scope["raw_path"] or scope["path"].encode())
        except BadRequestPath as exc:
            return exc
        decision = decide(x.table, x.router, self.pins, x.method, path, x.headers, x.client_ip, self.owners)
        x.routed(path, scope.get("query_string", b""), decision)
        if decision.route is not None:
            x.route_revision = state.revision(decision.route) or 0
        return None

    async def _identify(self, x: Exchange, send: Send) -> bool:
        """Forward auth for a request a service will answer: True with the signed identity in `x.out_headers`, or
        False once the monolith's refusal (or a 503 when it cannot be asked) has been sent."""
        table = x.table
        try:
            route = x.decision.route if x.decision is not None else None
            forward = route is not None and route.forward_credentials
            answer = await self._identity_headers(table, x.upstream, x.method, x.target, x.out_headers, forward)
        except ForwardAuthUnavailable as exc:
            x.upstream = table.default_upstream
            await self._send_error(x, send, exc)
            return False
        if isinstance(answer, Refusal):
            x.upstream = table.default_upstream
            x.answered(answer.status, len(answer.body), "identity_refused")
            length = (b"content-length", str(len(answer.body)).encode())
            head = [*answer.headers, length, (b"x-request-id", x.request_id.encode("latin-1"))]
            await send({"type": "http.response.start", "status": answer.status, "headers": head})
            await send({"type": "http.response.body", "body": answer.body})
            return False
        x.out_headers = answer
        return True

    async def _identity_headers(
        self,
        table: RouteTable,
        upstream: str,
        method: str,
        target: bytes,
        headers: Headers,
        forward_credentials: bool,
    ) -> Headers | Refusal:
        """The one identity step, for a client's request and for its mirror alike: `headers` with the client's
        credentials resolved by forward auth (cached), the identity signed for `upstream` (its audience), and the
        credentials withheld unless the route forwards them; or the monolith's refusal. Raises
        ForwardAuthUnavailable (fail closed)."""
        assert self._signer is not None
        monolith = table.upstreams[table.default_upstream].url
        if self._forward_auth is None or self._forward_auth.monolith_url != monolith:
            if self._forward_auth is not None:
                await self._forward_auth.close()
            self._forward_auth = ForwardAuth(monolith, cache_seconds=self.settings.identity_cache_seconds)
        answer = await self._forward_auth.resolve(method, target, headers)
        if isinstance(answer, Refusal):
            return answer
        return with_identity(headers, self._signer, answer, audience=upstream, forward_credentials=forward_credentials)

    async def _mirror_headers(self, request: MirroredRequest) -> Headers | None:
        """What a mirror carries: for a service, the same identity the primary path would sign for it (a signed-in
        read is compared as that user); for the monolith (`shadow_monolith`), no service's identity. None: the
        monolith refuses these credentials, so a service would never be asked (the mirror is skipped)."""
        table = self._state.table
        if request.service == table.default_upstream or self._signer is None:
            return [(n, v) for n, v in request.headers if n != IDENTITY_HEADER]
        revision = self._state.revisions.get(request.route)
        forward = revision is not None and revision[0].forward_credentials
        answer = await self._identity_headers(
            table, request.service, request.method, request.target, request.headers, forward
        )
        return None if isinstance(answer, Refusal) else answer

    def _plan_mirror(self, x: Exchange) -> None:
        """The decision mirrors this request: copy its body as it streams, unless the shadow queue is full."""
        if not self.shadow.has_room():
            self.metrics.shadow(x.route_label, "dropped_queue_full")
            x.mirror_to = None
        elif x.has_body:
            x.captured_request = bytearray()

    def _try_again(self, x: Exchange, exc: UpstreamError) -> bool:
        """After a transport failure: retry the same upstream, or fall back to the monolith, or give up (False)."""
        self.metrics.upstream_error(x.upstream, exc.code)
        if (
            x.retryable
            and x.retries < self.settings.retries
            and isinstance(exc, (UpstreamConnectError, UpstreamBroken))
        ):
            x.retries += 1
            self.metrics.retry(x.upstream)
            return True
        if x.may_fall_back:
            self.metrics.fallback(x.route_label)
            x.fall_back(exc.code)
            return True
        return False

    async def _pin(self, x: Exchange) -> None:
        """Read-your-writes: an unsafe request pins its client to the side that took it (`pinning.py`); with shared
        pins, stored before its answer goes back, so its next read finds it on any replica."""
        route = x.decision.route if x.decision is not None else None
        if x.pin_key is not None and route is not None:
            live = x.stage == "live"
            self.pins.pin(route.service, x.pin_key, route.pin_seconds, x.upstream, live=live)
            if self.shared_pins is not None and route.pin_seconds > 0:
                await self.shared_pins.pin(route.service, x.pin_key, route.pin_seconds, x.upstream, live=live)

    async def _shared_pin(self, x: Exchange, scope: Scope) -> None:
        """A canary read its bucket sends to the service: unless this replica pinned the client itself, ask the
        shared pins whether a write through another replica pinned it to the monolith."""
        decision = x.decision
        if decision is None or decision.stage != "canary" or decision.fallback is None or decision.route is None:
            return
        route = decision.route
        key = sticky_key(route, x.headers, x.client_ip)
        if self.pins.pinned(route.service, key) is not None or self.shared_pins is None:
            return
        default = x.table.default_upstream
        if await self.shared_pins.pinned(route.service, key, unknown=default) == default:
            x.routed(
                x.path or "/",
                scope.get("query_string", b""),
                Decision(route, route.path, decision.stage, default, None, None, None),
            )

    async def _relay(self, x: Exchange, response: UpstreamResponse, send: Send, capture: bytearray | None) -> None:
        """Stream the upstream's response to the client; the outcome goes into `x`."""
        x.fallback = x.fallback_from is not None
        sent = 0
        limit = self.shadow.body_limit + 1
        whole = response.complete_body()
        if whole is None and response.error is not None:
            # The response broke its own framing (bytes after its end, a bad chunk) before a byte of it reached the
            # client: the client gets a 502 and nothing of it (issue 9, class 4).
            response.release()
            self.metrics.upstream_error(x.upstream, response.error.code)
            await self._send_error(x, send, response.error)
            return
        try:
            head = self._answer_head(x, response)
            if whole is not None:
                response.release()  # before the write: the connection is free for the next request at once
                if capture is not None:
                    capture.extend(whole[:limit])
                owner = getattr(send, "__self__", None)
                if type(owner) is RequestCycle:  # the server's own send (unwrapped): head and body in one call
                    owner.send_whole(response.status, head, whole)
                else:
                    await send({"type": "http.response.start", "status": response.status, "headers": head})
                    await send({"type": "http.response.body", "body": whole, "more_body": False})
                x.status, x.sent = response.status, len(whole)
                return
            await send({"type": "http.response.start", "status": response.status, "headers": head})
            async for chunk in response.chunks():
                if capture is not None and len(capture) < limit:
                    capture.extend(chunk[: limit - len(capture)])
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                sent += len(chunk)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except ConnectionError:  # the client went away (ClientDisconnected among them)
            response.release()
            x.answered(499, sent, "client_gone")
            return
        except UpstreamError as exc:
            response.release()
            self.metrics.upstream_error(exc.upstream, exc.code)
            x.answered(response.status, sent, _TRUNCATED)
            raise _Truncated(exc) from exc
        response.release()
        x.status, x.sent = response.status, sent

    @staticmethod
    def _answer_head(x: Exchange, response: UpstreamResponse) -> Headers:
        """The upstream's headers for the client: hop-by-hop ones dropped, the request id (exactly one, the one the
        access log and the comparison name), and the upstream that answered when the route asks for it."""
        headers = response.headers
        named = connection_tokens(headers)
        head = [h for h in headers if h[0] not in _NOT_ANSWERED and h[0] not in named]
        head.append((b"x-request-id", x.request_id.encode("latin-1")))
        route = x.decision.route if x.decision is not None else None
        if route is not None and route.upstream_header:
            head.append((b"x-strangler-upstream", x.upstream.encode("ascii")))
        return head

    def _mirror(self, x: Exchange, response: UpstreamResponse, captured: bytearray) -> None:
        """Offer the exchange to the shadow pool, once the client has its whole answer (`shadow.py`)."""
        if x.error is not None or x.fallback:  # a fallback answer is the monolith's own
            return
        if x.body_too_large:
            self.metrics.shadow(x.route_label, "skipped_body_too_large")
            return
        if x.has_body and not x.body_complete:
            self.metrics.shadow(x.route_label, "skipped_body_incomplete")
            return
        assert x.mirror_to is not None
        request_body = x.captured_request
        limit = self.shadow.body_limit
        self.shadow.submit(
            MirroredRequest(
                request_id=x.request_id,
                route=x.route_label,
                route_revision=x.route_revision,
                service=x.mirror_to,
                method=x.method,
                target=x.target,
                headers=x.client_headers,  # as they were before the identity step: each mirror takes its own
                body=bytes(request_body or b""),
            ),
            CapturedResponse(
                status=response.status,
                headers=response.headers,
                body=bytes(captured[:limit]),
                truncated=len(captured) > limit,
                seconds=time.perf_counter() - x.started,
            ),
        )

    def _finish(self, x: Exchange) -> None:
        """The one place an exchange is recorded: a metric sample and, when on, one access-log line."""
        seconds = time.perf_counter() - x.started
        self.metrics.observe(x.route_label, x.stage, x.upstream, x.status, seconds)
        if self.settings.access_log and access_log.enabled():
            access_log.emit(x.access_fields(seconds))

    async def _send_error(self, x: Exchange, send: Send, error: ProxyError) -> None:
        x.failed(error)
        await send_error_response(send, error, x.request_id)


class _Truncated(ProxyError):
    """The upstream failed after the response started: the client connection is cut."""

    code = _TRUNCATED

    def __init__(self, cause: UpstreamError) -> None:
        super().__init__(str(cause))
        self.cause = cause
