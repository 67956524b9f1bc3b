"""One request's way through the data plane, as the state `ProxyApp` carries from step to step.

An `Exchange` is made when the request arrives (who the client is, the headers that go upstream, the request id),
is routed (`routed`: the canonical path and the stage's decision), and collects what happened: the upstream that
answered, retries and fallback, the status and bytes sent, the error. `ProxyApp._finish` records it once, in one
place: a metric sample and one access-log line (`access_fields`).

It also reads the request body: its start before any upstream is called (`read_body_start`: the whole body when
it fits the server's buffer, see `http.limits.ServerLimits.body_buffer`), then the rest as it is forwarded
(`body`), copying it for the shadow mirror up to its limit. What goes upstream is framed from that body
(`upstream_length`), never from the client's framing headers.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from strangler_proxy.dataplane.forwarding import upstream_request_headers
from strangler_proxy.dataplane.model import SAFE_METHODS, RouteTable
from strangler_proxy.dataplane.routing import Router
from strangler_proxy.dataplane.settings import ProxySettings
from strangler_proxy.dataplane.stages import DEFAULT_ROUTE, Decision
from strangler_proxy.errors import ClientDisconnected, ProxyError
from strangler_proxy.http.asgi import Receive, Scope
from strangler_proxy.http.headers import Headers

# Methods a request may be retried with on another connection (RFC 9110 §9.2.2), when it has no body.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class Exchange:
    __slots__ = (
        "body_complete",
        "body_length",
        "body_too_large",
        "body_touched",
        "captured_request",
        "chunked",
        "client_headers",
        "client_ip",
        "decision",
        "error",
        "fallback",
        "fallback_from",
        "fallback_reason",
        "first_piece",
        "framed",
        "has_body",
        "headers",
        "loop_detected",
        "method",
        "mirror_to",
        "out_headers",
        "path",
        "pin_key",
        "request_id",
        "retries",
        "route_label",
        "route_revision",
        "router",
        "sent",
        "stage",
        "started",
        "status",
        "table",
        "target",
        "upstream",
    )

    def __init__(self, scope: Scope, table: RouteTable, router: Router, settings: ProxySettings) -> None:
        self.started = time.perf_counter()
        self.table = table  # the request's own: a swap while it runs does not change its route or its upstreams
        self.router = router
        self.method: str = scope["method"]
        client = scope.get("client")
        self.headers: Headers = scope["headers"]
        self.out_headers, who = upstream_request_headers(
            self.headers,
            peer=client[0] if client else "",
            scheme=scope.get("scheme", "http"),
            trusted=settings.trusted_proxies,
            via_name=settings.via_name,
        )
        self.client_headers = self.out_headers  # before the identity step: what a fallback to the monolith sends
        self.request_id = who.request_id
        self.client_ip = who.client_ip
        self.loop_detected = who.loop
        self.path: str | None = None  # canonical, once routed
        self.target = b""
        self.decision: Decision | None = None
        # Until routed, an answer is the proxy's own.
        self.route_label = DEFAULT_ROUTE
        self.route_revision = 0  # the matched route's revision in the request's table (`app.route_revisions`)
        self.stage = "none"
        self.upstream = "proxy"
        self.framed = False  # the client's head framed a body (Content-Length, even 0, or chunked)
        self.has_body = False
        self.chunked = False
        self.body_length: int | None = None  # the client's Content-Length
        self.first_piece = b""  # what `read_body_start` read
        self.mirror_to: str | None = None  # where the decision mirrors it, once the shadow pool has room
        self.pin_key: str | None = None  # pin this client to the side that took its write
        self.captured_request: bytearray | None = None
        self.body_touched = False  # read past its first piece: the request can no longer be replayed elsewhere
        self.body_too_large = False  # over the shadow body limit: not mirrored
        self.body_complete = False  # read to its end (an upstream that answered early may leave it unread)
        self.status = 0  # 0 until answered
        self.sent = 0
        self.error: str | None = None
        self.retries = 0
        self.fallback = False  # the answer came from the fallback upstream
        self.fallback_from: str | None = None
        self.fallback_reason: str | None = None

    def routed(self, path: str, query: bytes, decision: Decision) -> None:
        self.path = path
        self.target = path.encode() + (b"?" + query if query else b"")
        self.decision = decision
        self.route_label = decision.route_label
        self.stage = decision.stage
        self.upstream = decision.upstream
        self.mirror_to = decision.mirror_to
        self.pin_key = decision.pin_key
        for name, value in self.headers:  # one of the two at most: the server refused requests with both or two
            if name == b"content-length":
                self.framed = True
                self.body_length = int(value)
                self.has_body = self.body_length > 0
            elif name == b"transfer-encoding":
                self.framed = self.has_body = self.chunked = True

    @property
    def upstream_length(self) -> int | None:
        """The Content-Length of what goes upstream; None: no body, or one that streams chunked (its length is not
        known: chunked and larger than the buffer)."""
        if not self.has_body:
            return 0 if self.framed else None
        if self.body_complete:
            return len(self.first_piece)
        return self.body_length

    @property
    def retryable(self) -> bool:
        return self.method in IDEMPOTENT_METHODS and not self.has_body

    @property
    def may_fall_back(self) -> bool:
        """A safe request whose body was never read may go to the decision's fallback, once."""
        decision = self.decision
        return (
            decision is not None
            and decision.fallback is not None
            and self.method in SAFE_METHODS
            and self.fallback_from is None
            and not self.body_touched
        )

    def fall_back(self, reason: str) -> None:
        assert self.decision is not None and self.decision.fallback is not None
        self.fallback_from = self.upstream
        self.fallback_reason = reason
        self.upstream = self.decision.fallback
        self.out_headers = self.client_headers  # the monolith authenticates the client's own credentials
        self.retries = 0

    def answered(self, status: int, sent: int, error: str | None = None) -> None:
        self.status = status
        self.sent = sent
        self.error = error

    def failed(self, error: ProxyError) -> None:
        self.answered(error.status, 0, error.code)

    async def read_body_start(self, receive: Receive, limit: int) -> None:
        """Read the body's first piece, before any upstream is called: all of it when it fits the server's buffer.
        Raises `ClientDisconnected` when the client goes away (or is too slow) first."""
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected("the client went away before its request body arrived")
        self.first_piece = message.get("body", b"")
        self.body_complete = not message.get("more_body", False)
        self._capture(self.first_piece, limit)

    def body(self, receive: Receive, limit: int) -> AsyncIterator[bytes]:
        """The request body for one attempt upstream: the first piece, then the rest as the client sends it (a
        copy of its first `limit` bytes goes to `captured_request`). A body read whole can be sent again."""
        return _RequestBody(self, receive, limit)

    def _capture(self, chunk: bytes, limit: int) -> None:
        captured = self.captured_request
        if captured is not None and not self.body_too_large:
            if len(captured) + len(chunk) > limit:
                self.body_too_large = True
            else:
                captured.extend(chunk)

    def access_fields(self, seconds: float) -> dict[str, object]:
        """One access-log line (see `access_log.py`)."""
        fields: dict[str, object] = {
            "ts": round(time.time(), 3),
            "request_id": self.request_id,
            "method": self.method,
            "client": self.client_ip,
        }
        if self.path is not None:
            fields["path"] = self.path
        if self.fallback_from is not None:
            fields["fallback_from"] = self.fallback_from
            fields["fallback_reason"] = self.fallback_reason
        fields["status"] = self.status
        fields["route"] = self.route_label
        fields["stage"] = self.stage
        fields["upstream"] = self.upstream
        fields["fallback"] = self.fallback
        fields["retries"] = self.retries
        fields["duration_ms"] = round(seconds * 1000, 3)
        fields["bytes_out"] = self.sent
        fields["error"] = self.error
        return fields


class _RequestBody:
    """`Exchange.body`'s iterator, step for step what an async generator would do (a class: mypyc does not compile
    async generators). `_step`: 0 the first piece is next, 1 the rest starts, 2 reading, 3 the last chunk was given
    (the body is complete once it is asked for more), 4 over."""

    __slots__ = ("_limit", "_receive", "_step", "_x")

    def __init__(self, x: Exchange, receive: Receive, limit: int) -> None:
        self._x = x
        self._receive = receive
        self._limit = limit
        self._step = 0

    def __aiter__(self) -> _RequestBody:
        return self

    async def __anext__(self) -> bytes:
        x = self._x
        step = self._step
        if step == 0:
            self._step = step = 1
            if x.first_piece:
                return x.first_piece
        if step == 1:
            if x.body_complete:
                self._step = 4
                raise StopAsyncIteration
            x.body_touched = True
            self._step = step = 2
        if step == 3:
            x.body_complete = True
            self._step = 4
        if self._step == 4:
            raise StopAsyncIteration
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._step = 4
                raise ClientDisconnected("the client went away while its request body was forwarded")
            chunk: bytes = message.get("body", b"")
            last = not message.get("more_body", False)
            if chunk:
                x._capture(chunk, self._limit)
                if last:
                    self._step = 3
                return chunk
            if last:
                x.body_complete = True
                self._step = 4
                raise StopAsyncIteration
