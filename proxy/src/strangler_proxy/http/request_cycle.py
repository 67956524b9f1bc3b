"""One request/response exchange on an HTTP/1.1 connection: the ASGI `receive` and `send` of a request.

`receive` hands the app the body. Its first call answers ``Expect: 100-continue`` (so only once the app has
routed the request and decided to read it) and returns the whole body when it fits `ServerLimits.body_buffer`,
else the buffer's worth; later calls return what arrived since. Every wait is bounded by `body_timeout`, the
body as a whole by `body_deadline` and by `body_min_rate`, counted from that first call: the client cannot send
before (408 when one is missed).

`send` frames the response — the app's ``Content-Length``, else chunked for HTTP/1.1 or close-delimited for
HTTP/1.0, no body for HEAD/204/304 — and waits while the socket's write buffer is full. A response that starts
before the request body has arrived keeps the connection only if the rest of the body is small enough to read and
drop (the connection does that once the response is sent); otherwise it says ``Connection: close``.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Final, Protocol

from strangler_proxy.errors import ClientDisconnected, error_body
from strangler_proxy.http.asgi import Message, Scope
from strangler_proxy.http.headers import Headers
from strangler_proxy.http.limits import ServerLimits

REASONS: Final = {s.value: s.phrase.encode() for s in HTTPStatus}
_STATUS_LINES: Final = {status: b"HTTP/1.1 %d %b\r\n" % (status, reason) for status, reason in REASONS.items()}
_NO_BODY_STATUSES: Final = frozenset({204, 304})
_TIMED_OUT = object()
RATE_GRACE = 5.0  # seconds after the app asks for a body (or `body_timeout`, if shorter) before the min rate applies


def time_out(waiter: asyncio.Future[object]) -> None:
    if not waiter.done():
        waiter.set_result(_TIMED_OUT)


class Connection(Protocol):
    """What an exchange needs from the connection it runs on (`protocol.HttpProtocol` is the one)."""

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport | None
    limits: ServerLimits
    first_need: int  # bytes a body's first read waits for (the buffer)
    first_pause_at: int  # bytes of a body waiting for its first read beyond which reading pauses
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
        "asked_at",
        "body",
        "body_length",
        "chunked",
        "chunked_response",
        "complete",
        "continue_sent",
        "discard",
        "disconnected",
        "expect_continue",
        "head",
        "head_sent",
        "is_head",
        "keep_alive",
        "length",
        "need",
        "pause_at",
        "proto",
        "received",
        "response_complete",
        "response_started",
        "scope",
        "sent_bytes",
        "status",
        "waiter",
    )

    def __init__(
        self,
        proto: Connection,
        scope: Scope,
        *,
        keep_alive: bool,
        expect_continue: bool,
        body_length: int | None = None,
        chunked: bool = False,
    ) -> None:
        self.proto = proto
        self.scope = scope
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue
        self.continue_sent = False
        self.is_head = scope["method"] == "HEAD"
        # the request body, as the head framed it: `body_length` bytes (None: chunked, or no body at all)
        self.body_length = body_length
        self.chunked = chunked
        self.body = bytearray()  # arrived, not yet handed to the app
        self.received = 0  # body bytes arrived so far
        self.asked_at = 0.0  # when the app first asked for the body: its deadline and rate count from then
        self.need = proto.first_need  # what the first `receive` waits for: the buffer, or the whole body
        self.pause_at = proto.first_pause_at  # reading pauses while more than this waits for the app
        self.complete = False
        self.discard = False  # answered already: what still arrives of the body is dropped
        self.disconnected = False
        self.waiter: asyncio.Future[object] | None = None
        self.response_started = False
        self.response_complete = False
        self.status = 0
        self.head: list[tuple[bytes, bytes]] = []
        self.head_sent = False
        self.length: int | None = None  # the response's Content-Length
        self.chunked_response = False
        self.sent_bytes = 0

    def wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def receive(self) -> Message:
        if self.disconnected or self.response_complete:
            return {"type": "http.disconnect"}
        proto = self.proto
        if not self.asked_at:
            self.asked_at = proto.loop.time()
        if self.expect_continue and not self.continue_sent and not self.response_started:
            self.continue_sent = True
            # RFC 9110 §10.1.1: no need to ask for a body that has started arriving
            if proto.transport is not None and not self.received and not self.complete:
                proto.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        while len(self.body) < self.need and not self.complete:
            if proto.cycle is self and proto.parsing is self:
                proto.resume_reading()
            before = self.received
            waiter = self.waiter = proto.loop.create_future()
            timer = proto.loop.call_later(self._wait_limit(), time_out, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self.waiter = None
            if waiter.result() is _TIMED_OUT and (
                self.received == before or proto.loop.time() >= self.asked_at + proto.limits.body_deadline
            ):
                self.disconnected = True
                proto.reject(408, "request body not received in time")
            if self.disconnected:
                return {"type": "http.disconnect"}
        data = bytes(self.body)
        self.body.clear()
        if self.need > 1:  # the buffered start is out: from now on the body streams
            self.need = 1
            self.pause_at = proto.limits.high_water
        if proto.parsing is self:
            proto.resume_reading()
        return {"type": "http.request", "body": data, "more_body": not self.complete}

    def _wait_limit(self) -> float:
        """Seconds the next wait for body bytes may take: the gap allowed, the deadline, the minimum rate."""
        limits = self.proto.limits
        now = self.proto.loop.time()
        limit = min(limits.body_timeout, self.asked_at + limits.body_deadline - now)
        if limits.body_min_rate:
            grace = min(RATE_GRACE, limits.body_timeout)
            limit = min(limit, self.asked_at + grace + self.received / limits.body_min_rate - now)
        return max(limit, 0.0)

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
            out.append(b"%x\r\n%b\r\n" % (len(body), body) if self.chunked_response else body)
        if not more:
            if self.chunked_response:
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

    def send_whole(self, status: int, headers: Headers, body: bytes) -> None:
        """A whole response at once: what `send` does with ``http.response.start`` and one last
        ``http.response.body``, without the two messages and the two coroutines; `headers` as `send` takes them.
        The proxy's path for an upstream response that arrived complete, taken only when the `send` it was given is
        this cycle's own (``send.__self__``): a middleware that wrapped `send`, to see or change what is sent, is
        never bypassed."""
        if self.disconnected or self.proto.closing:
            raise ClientDisconnected("client disconnected")
        if self.response_started:
            raise RuntimeError("response already started")
        self.response_started = True
        self.status = status
        self.head = headers
        self.head_sent = True
        transport = self.proto.transport
        assert transport is not None
        head = self._head_bytes(body, False)
        self.response_complete = True
        if body and not (self.is_head or status in _NO_BODY_STATUSES):
            self.sent_bytes = len(body)
            if self.length is not None and self.sent_bytes > self.length:
                self.proto.abort()
                raise RuntimeError("response body longer than its Content-Length")
            transport.write(head + body)
        else:
            transport.write(head)
        if self.length is not None and self.sent_bytes < self.length and not self.is_head:
            self.proto.abort()

    def _head_bytes(self, body: bytes, more: bool) -> bytes:
        status = self.status
        line = _STATUS_LINES.get(status)
        lines = [line if line is not None else b"HTTP/1.1 %d \r\n" % status]
        declared: int | None = None
        close = not self.keep_alive
        for name, value in self.head:
            size = len(name)
            # only a name of their lengths can be one of the three (in any case): the others need no `lower()`
            if size == 17 or size == 10 or size == 14:
                lname = name.lower()
                if lname == b"transfer-encoding":
                    continue
                if lname == b"connection":
                    close = close or value.lower().find(b"close") >= 0
                    continue
                if lname == b"content-length":
                    declared = int(value)
            # four appends, not `lines += (...)`: no tuple to build and free per field
            lines.append(name)
            lines.append(b": ")
            lines.append(value)
            lines.append(b"\r\n")
        if self.is_head or status in _NO_BODY_STATUSES or status < 200:
            self.length = None
        elif declared is not None:
            self.length = declared
        elif not more:
            self.length = len(body)
            lines.append(b"content-length: %d\r\n" % len(body))
        elif self.scope["http_version"] == "1.1":
            self.chunked_response = True
            lines.append(b"transfer-encoding: chunked\r\n")
        else:
            close = True
        if not close and not self.complete and not self._can_discard_rest():
            close = True
        if close:
            self.keep_alive = False
            lines.append(b"connection: close\r\n")
        elif self.scope["http_version"] == "1.0":
            lines.append(b"connection: keep-alive\r\n")  # an HTTP/1.0 client assumes close unless told
        lines.append(b"\r\n")
        return b"".join(lines)

    def _can_discard_rest(self) -> bool:
        """Answering before the body arrived: may the connection stay open, the rest of the body being read and
        dropped afterwards? Only for a known, small rest, and never when the client waits for a 100 Continue that
        did not come (it may not send the body at all)."""
        if self.disconnected or (self.expect_continue and not self.continue_sent and not self.received):
            return False
        return self.body_length is not None and self.body_length - self.received <= self.proto.limits.body_buffer

    async def send_error(self, status: int, detail: str) -> None:
        body = error_body(status, "internal", detail)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        try:
            await self.send({"type": "http.response.start", "status": status, "headers": headers})
            await self.send({"type": "http.response.body", "body": body})
        except (ClientDisconnected, RuntimeError):
            self.proto.abort()
