"""One request/response exchange on an HTTP/1.1 connection: the ASGI `receive` and `send` of a request.

`receive` hands the app the body as it arrives (answering ``Expect: 100-continue`` on the first call, with a
`ServerLimits.body_timeout` deadline per wait); `send` frames the response — the app's ``Content-Length``, else
chunked for HTTP/1.1 or close-delimited for HTTP/1.0, no body for HEAD/204/304 — and waits while the socket's
write buffer is full.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Protocol

from strangler_proxy.errors import ClientDisconnected, error_body
from strangler_proxy.http.asgi import Message, Scope
from strangler_proxy.http.limits import ServerLimits

REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}
_NO_BODY_STATUSES = frozenset({204, 304})
_TIMED_OUT = object()


def time_out(waiter: asyncio.Future[object]) -> None:
    if not waiter.done():
        waiter.set_result(_TIMED_OUT)


class Connection(Protocol):
    """What an exchange needs from the connection it runs on (`protocol.HttpProtocol` is the one)."""

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport | None
    limits: ServerLimits
    cycle: RequestCycle | None  # the exchange the app is running
    parsing: RequestCycle | None  # the exchange whose body is arriving
    closing: bool
    write_paused: bool

    def resume_reading(self) -> None: ...
    def reject(self, status: int, detail: str) -> None: ...
    def abort(self) -> None: ...
    async def drain(self) -> None: ...


class RequestCycle:
    __slots__ = (
        "body",
        "chunked",
        "complete",
        "continue_sent",
        "disconnected",
        "expect_continue",
        "head",
        "head_sent",
        "is_head",
        "keep_alive",
        "length",
        "proto",
        "response_complete",
        "response_started",
        "scope",
        "sent_bytes",
        "status",
        "waiter",
    )

    def __init__(self, proto: Connection, scope: Scope, *, keep_alive: bool, expect_continue: bool) -> None:
        self.proto = proto
        self.scope = scope
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue
        self.continue_sent = False
        self.is_head = scope["method"] == "HEAD"
        self.body = bytearray()
        self.complete = False
        self.disconnected = False
        self.waiter: asyncio.Future[object] | None = None
        self.response_started = False
        self.response_complete = False
        self.status = 0
        self.head: list[tuple[bytes, bytes]] = []
        self.head_sent = False
        self.chunked = False
        self.length: int | None = None
        self.sent_bytes = 0

    def wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def receive(self) -> Message:
        if self.disconnected or self.response_complete:
            return {"type": "http.disconnect"}
        if self.expect_continue and not self.continue_sent and not self.response_started:
            self.continue_sent = True
            if self.proto.transport is not None:
                self.proto.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        while not self.body and not self.complete:
            proto = self.proto
            if proto.cycle is self and proto.parsing is self:
                proto.resume_reading()
            waiter = self.waiter = proto.loop.create_future()
            timer = proto.loop.call_later(proto.limits.body_timeout, time_out, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self.waiter = None
            if waiter.result() is _TIMED_OUT:
                self.disconnected = True
                proto.reject(408, "request body not received in time")
            if self.disconnected:
                return {"type": "http.disconnect"}
        data = bytes(self.body)
        self.body.clear()
        if self.proto.parsing is self:
            self.proto.resume_reading()
        return {"type": "http.request", "body": data, "more_body": not self.complete}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if self.disconnected or self.proto.closing:
            raise ClientDisconnected("client disconnected")
        if kind == "http.response.start":
            if self.response_started:
                raise RuntimeError("response already started")
            self.response_started = True
            self.status = int(message["status"])
            self.head = list(message.get("headers", ()))
            return
        if kind != "http.response.body":
            raise RuntimeError(f"unexpected ASGI message {kind!r}")
        if not self.response_started or self.response_complete:
            raise RuntimeError("response body outside a response")
        body: bytes = message.get("body", b"")
        more: bool = message.get("more_body", False)
        transport = self.proto.transport
        assert transport is not None
        out: list[bytes] = []
        if not self.head_sent:
            self.head_sent = True
            out.append(self._head_bytes(body, more))
        if body and not (self.is_head or self.status in _NO_BODY_STATUSES):
            self.sent_bytes += len(body)
            if self.length is not None and self.sent_bytes > self.length:
                self.proto.abort()
                raise RuntimeError("response body longer than its Content-Length")
            out.append(b"%x\r\n%b\r\n" % (len(body), body) if self.chunked else body)
        if not more:
            if self.chunked:
                out.append(b"0\r\n\r\n")
            self.response_complete = True
        if out:
            transport.write(b"".join(out) if len(out) > 1 else out[0])
        if not more:
            if self.length is not None and self.sent_bytes < self.length and not self.is_head:
                self.proto.abort()
            return
        if self.proto.write_paused:
            await self.proto.drain()

    def _head_bytes(self, body: bytes, more: bool) -> bytes:
        status = self.status
        lines = [b"HTTP/1.1 %d %b\r\n" % (status, REASONS.get(status, b""))]
        declared: int | None = None
        close = not self.keep_alive
        for name, value in self.head:
            lname = name.lower()
            if lname == b"transfer-encoding":
                continue
            if lname == b"connection":
                close = close or b"close" in value.lower()
                continue
            if lname == b"content-length":
                declared = int(value)
            lines += (name, b": ", value, b"\r\n")
        if self.is_head or status in _NO_BODY_STATUSES or status < 200:
            self.length = None
        elif declared is not None:
            self.length = declared
        elif not more:
            self.length = len(body)
            lines.append(b"content-length: %d\r\n" % len(body))
        elif self.scope["http_version"] == "1.1":
            self.chunked = True
            lines.append(b"transfer-encoding: chunked\r\n")
        else:
            close = True
        if close:
            self.keep_alive = False
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        return b"".join(lines)

    async def send_error(self, status: int, detail: str) -> None:
        body = error_body(status, "internal", detail)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        try:
            await self.send({"type": "http.response.start", "status": status, "headers": headers})
            await self.send({"type": "http.response.body", "body": body})
        except (ClientDisconnected, RuntimeError):
            self.proto.abort()
