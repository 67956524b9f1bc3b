"""A strict HTTP/1.1 server protocol on asyncio and httptools (llhttp) that runs an ASGI app.

Why our own: the proxy must refuse, never pass on, ambiguous requests, and a general ASGI server does not check
all of these. Rejected with a response and a closed connection:

* any request llhttp cannot parse (bad request line, a header name outside the RFC 9110 token grammar, obs-fold,
  whitespace before a colon, bad chunk sizes, invalid or duplicated ``Content-Length`` values, …) → 400;
* ``Content-Length`` together with ``Transfer-Encoding``, more than one ``Content-Length`` or
  ``Transfer-Encoding`` header, a ``Transfer-Encoding`` other than ``chunked``, ``Transfer-Encoding`` in an
  HTTP/1.0 request (RFC 9112 §6.1), ``Upgrade`` on a request with a body → 400;
* HTTP/1.1 without exactly one ``Host``, HTTP/1.0 with more than one → 400;
* a request target that is neither origin-form (``/path?query``; ``*`` only for OPTIONS) nor absolute-form → 400
  (an absolute-form target is accepted, as RFC 9112 §3.2.2 requires: its authority replaces ``Host``);
* a URL over `ServerLimits.max_url_bytes` → 414; a head over `max_header_bytes` or `max_headers` → 431;
* a body over `max_body` → 413, from its ``Content-Length`` before the app runs (so before any
  ``100 Continue``), or as soon as a chunked one grows past it;
* a head that takes longer than `header_timeout` to arrive (slowloris) → 408; a body that stalls for
  `body_timeout`, misses `body_deadline` or averages less than `body_min_rate` → 408;
* more than `max_connections` open connections → new ones are closed before a byte is read;
* HTTP versions other than 1.0 and 1.1 → 505; ``Upgrade`` is not supported (the request is served without it).

Header fields whose name holds ``_`` are dropped, as nginx does by default: a WSGI or CGI server maps ``X_Foo``
and ``X-Foo`` to the same variable, so such a name could pass for a header the proxy strips. Trailer fields are
dropped too; they never become headers.

Pipelining: requests are answered in order, one app call at a time. A request that is refused after others were
read is answered after their responses, and then the connection closes. Input is parsed `FEED_SLICE` bytes at a
time and parsing stops while a request waits its turn, so a client pipelining without end costs the memory of one
slice's requests, not of everything it sent.

Bounded per connection: reading from the client pauses while a request body waits for the app beyond the buffer
(`body_buffer` at first, then `high_water`) and while responses wait for the client beyond `write_high_water`
(no next request is started then either); a client that takes nothing for `send_timeout` is cut off.

Closing: the server adds no headers of its own (no ``Date``, no ``Server``) except the framing it needs and
``Connection: close`` when it closes (``keep-alive`` to an HTTP/1.0 client that asked for it). A close after a
response is graceful (RFC 9112 §9.6): the write side is shut first and what the client still sends is read and
dropped, for `LINGER_SECONDS` and `LINGER_BYTES` at most, so the client reads the response rather than a reset. A
response sent before the request body was read keeps the connection only when the rest of the body is known and
small (it is then read and dropped before the next request), else it says ``Connection: close``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import cast
from urllib.parse import unquote

import httptools

from strangler_proxy.errors import ClientDisconnected, ProxyError, error_body
from strangler_proxy.http.asgi import ASGIApp, Scope
from strangler_proxy.http.limits import ServerLimits
from strangler_proxy.http.request_cycle import REASONS, RequestCycle
from strangler_proxy.http.timer import LazyTimer

log = logging.getLogger("strangler.server")

FEED_SLICE = 4096  # bytes parsed at a time once more than this arrived: at most this much is parsed ahead
LINGER_SECONDS = 2.0  # after a graceful close: how long what the client still sends is read and dropped
LINGER_BYTES = 4 << 20  # ... and how much of it
# what a URL's host[:port] may hold: reg-name and IPv6 literal characters, no userinfo (@) nor path
_AUTHORITY = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:[]%")
# the request fields `_new_cycle` reads to decide the framing and the connection's fate
_FRAMING_FIELDS = frozenset({b"host", b"content-length", b"transfer-encoding", b"expect", b"connection"})
_ASGI = {"version": "3.0", "spec_version": "2.4"}  # the same for every scope (nothing changes it)
_ERROR_CODES = {
    408: "request_timeout",
    413: "body_too_large",
    414: "url_too_long",
    431: "headers_too_large",
    505: "version_not_supported",
}


class _Reject(ProxyError):
    """Raised inside httptools' callbacks (which wrap it): the request is refused with `status` and closed."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class ConnectionRegistry:
    """The open connections of one listener, for graceful shutdown."""

    def __init__(self) -> None:
        self.connections: set[HttpProtocol] = set()
        self._empty: asyncio.Event | None = None

    def add(self, conn: HttpProtocol) -> None:
        self.connections.add(conn)

    def discard(self, conn: HttpProtocol) -> None:
        self.connections.discard(conn)
        if not self.connections and self._empty is not None:
            self._empty.set()

    async def shutdown(self, grace: float) -> None:
        self._empty = asyncio.Event()
        for conn in list(self.connections):
            conn.shutdown()
        if self.connections:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._empty.wait(), grace)
        for conn in list(self.connections):
            conn.abort()


class HttpProtocol(asyncio.Protocol):
    def __init__(self, app: ASGIApp, limits: ServerLimits, registry: ConnectionRegistry, scheme: str = "http") -> None:
        self.app = app
        self.limits = limits
        self.first_need = max(limits.body_buffer, 1)  # see RequestCycle.need and .pause_at
        self.first_pause_at = max(limits.body_buffer, limits.high_water)
        self.registry = registry
        self.scheme = scheme
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.client: tuple[str, int] | None = None
        self.server: tuple[str, int] | None = None
        self.cycle: RequestCycle | None = None  # the one the app is running (or is about to run)
        self.serving = False  # the connection's task is alive (see `_serve`)
        self.parked: asyncio.Future[None] | None = None  # what that task waits on between requests
        self.pipeline: deque[RequestCycle] = deque()  # read, waiting for their turn
        self.parsing: RequestCycle | None = None  # the one whose body is arriving
        self.discarding: RequestCycle | None = None  # answered; the rest of its body is read and dropped
        self.refusal: tuple[int, str] | None = None  # to send once the requests read before it are answered
        self.in_head = False
        self.head_bytes = 0
        self.header_count = 0
        self.header_size = 0
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.timer = LazyTimer(self.loop, self._on_deadline)
        self.read_paused = False  # no more input is parsed for now (what arrives goes to `stash`)
        self.transport_reading = True
        self.feeding = False
        self.stash = b""
        self.reading_stopped = False  # no more requests are read: one was refused
        self.write_paused = False
        self.next_when_drained = False  # the next request waits until the client has taken our responses
        self.send_timer: asyncio.TimerHandle | None = None
        self.drain_waiters: list[asyncio.Future[None]] = []
        self.closing = False
        self.lingering = False
        self.linger_bytes = 0
        self.stopping = False
        self.rejected: _Reject | None = None

    # connection lifetime
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        if len(self.registry.connections) >= self.limits.max_connections:
            self.closing = True
            self.transport.close()  # before reading a byte: cheaper for both sides than a 503
            return
        self.registry.add(self)
        self.transport.set_write_buffer_limits(high=self.limits.write_high_water)
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        self.client = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None
        self.server = (str(sock[0]), int(sock[1])) if isinstance(sock, tuple) else None
        self.timer.arm(self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.registry.discard(self)
        self.timer.cancel()
        if self.send_timer is not None:
            self.send_timer.cancel()
        for cycle in (self.cycle, self.parsing, *self.pipeline):
            if cycle is not None:
                cycle.disconnected = True
                cycle.wake()
        self._wake_drain_waiters()
        self._unpark()  # with no request to serve, the connection's task ends

    def pause_writing(self) -> None:
        self.write_paused = True
        if self.send_timer is None:
            self.send_timer = self.loop.call_later(self.limits.send_timeout, self._send_timed_out)

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.send_timer is not None:
            self.send_timer.cancel()
            self.send_timer = None
        self._wake_drain_waiters()
        if self.next_when_drained:
            self.next_when_drained = False
            self._next_cycle()

    def _send_timed_out(self) -> None:
        self.send_timer = None
        if self.write_paused:
            self.abort()  # the client has taken nothing for send_timeout: nobody is reading

    def _wake_drain_waiters(self) -> None:
        for waiter in self.drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.drain_waiters.clear()

    async def drain(self) -> None:
        if self.write_paused and not self.closing:
            waiter = self.loop.create_future()
            self.drain_waiters.append(waiter)
            await waiter

    def data_received(self, data: bytes) -> None:
        if self.lingering:
            self.linger_bytes += len(data)
            if self.linger_bytes > LINGER_BYTES:
                self.abort()
            return
        if self.closing or self.reading_stopped:
            return
        if self.stash:  # a read that was under way when reading paused
            self.stash += data
            return
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        """Parse `data` a slice at a time; once something pauses reading (a request waiting its turn, a body
        waiting for the app, responses waiting for the client), keep the rest in `stash` until `resume_reading`.
        So a connection never holds more parsed requests than one slice makes, however much a client pipelines."""
        self.feeding = True
        offset, end = 0, len(data)
        try:
            while offset < end:
                if self.read_paused:
                    self.stash = data[offset:]
                    return
                size = end - offset
                if size > FEED_SLICE:
                    size = max(FEED_SLICE, min(size, self._body_left()))
                piece = data if size == end else data[offset : offset + size]
                offset += size
                if self.in_head or self.parsing is None:
                    self.head_bytes += len(piece)
                if not self._parse(piece):
                    return
                if self.in_head and self.head_bytes > self.limits.max_header_bytes + self.limits.max_url_bytes:
                    self.reject(431, "request head too large")
                    return
        finally:
            self.feeding = False
            if not self.read_paused and not self.transport_reading:
                self._resume_transport()

    def _body_left(self) -> int:
        """Bytes still to come of the body being read, when its length is known: they are fed in one piece."""
        cycle = self.parsing
        if cycle is None or cycle.body_length is None or self.in_head:
            return 0
        return cycle.body_length - cycle.received

    def _parse(self, data: bytes) -> bool:
        """Feed llhttp; False once the connection reads no more (a request was refused)."""
        while True:
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserUpgrade as exc:
                # llhttp stops after the head of a request that asks for an upgrade (which then has no body, see
                # `_new_cycle`): it is served as a plain request, and parsing goes on with the bytes after it
                offset = int(exc.args[0])
                if offset < len(data) and not self.reading_stopped and not self.closing:
                    data = data[offset:]
                    continue
            except httptools.HttpParserError as exc:
                # httptools wraps exceptions raised in callbacks; the reason was kept aside
                rejected, self.rejected = self.rejected, None
                if rejected is not None:
                    self.reject(rejected.status, rejected.detail)
                else:
                    self.reject(400, f"malformed request: {exc}")
                return False
            return not (self.reading_stopped or self.closing)

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.in_head = True
        self.url = b""
        self.headers = []
        self.header_count = 0
        self.header_size = 0
        self.timer.arm(self.limits.header_timeout)

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > self.limits.max_url_bytes:
            self._refuse(414, "request URL too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        # trailer fields count against the same limits as the head's, and are then dropped
        self.header_count += 1
        self.header_size += len(name) + len(value) + 4
        if self.header_count > self.limits.max_headers:
            self._refuse(431, "too many request headers")
        if self.header_size > self.limits.max_header_bytes:
            self._refuse(431, "request headers too large")
        if self.in_head and name.find(b"_") < 0:  # not `b"_" not in name`: see `_new_cycle`
            self.headers.append((name.lower(), value))

    def _refuse(self, status: int, detail: str) -> None:
        self.rejected = _Reject(status, detail)
        raise self.rejected

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.head_bytes = 0
        self.timer.disarm()
        try:
            cycle = self._new_cycle()
        except _Reject as exc:
            self.rejected = exc
            raise
        self.parsing = cycle
        if self.cycle is None and self.discarding is None and not self.next_when_drained and not self.pipeline:
            self._start(cycle)
        else:
            self.pipeline.append(cycle)
            self.pause_reading()  # the rest waits in `stash` until this one's turn

    def on_body(self, body: bytes) -> None:
        cycle = self.parsing
        if cycle is None:
            return
        cycle.received += len(body)
        if cycle.received > self.limits.max_body > 0:
            self._refuse(413, f"request body larger than {self.limits.max_body} bytes")
        if cycle.discard:
            return
        cycle.body += body
        if len(cycle.body) >= cycle.need:
            cycle.wake()
        if len(cycle.body) > cycle.pause_at:
            self.pause_reading()

    def on_message_complete(self) -> None:
        cycle = self.parsing
        if cycle is None:
            return
        cycle.complete = True
        self.parsing = None
        cycle.wake()
        if cycle is self.discarding:
            self.discarding = None
            self._next_cycle()

    # request validation
    def _new_cycle(self) -> RequestCycle:
        version = self.parser.get_http_version()
        if version not in ("1.1", "1.0"):
            raise _Reject(505, f"HTTP/{version} is not supported")
        method = self.parser.get_method().decode("ascii")
        hosts = lengths = codings = 0
        length = b""
        expect_continue = close = False
        for name, value in self.headers:
            if name not in _FRAMING_FIELDS:  # most fields: one set lookup, not five comparisons
                continue
            if name == b"host":
                hosts += 1
            elif name == b"content-length":
                lengths += 1
                length = value.strip(b" \t")  # OWS is not part of a field value (llhttp leaves it on)
                if not length.isdigit():
                    raise _Reject(400, "malformed Content-Length")
            elif name == b"transfer-encoding":
                codings += 1
                if value.strip().lower() != b"chunked":
                    raise _Reject(400, "only 'Transfer-Encoding: chunked' is accepted")
            elif name == b"expect" and value.lower() == b"100-continue":
                expect_continue = True
            elif name == b"connection":
                # "close" wins over "keep-alive" (RFC 9112 §9.3); llhttp lets keep-alive win in HTTP/1.0
                close = close or b"close" in [t.strip() for t in value.lower().split(b",")]
        if hosts > 1 or (hosts == 0 and version == "1.1"):
            raise _Reject(400, "a request needs exactly one Host header")
        if lengths > 1 or codings > 1:
            raise _Reject(400, "repeated Content-Length or Transfer-Encoding")
        if lengths and codings:
            raise _Reject(400, "Content-Length together with Transfer-Encoding")
        if codings and version == "1.0":
            raise _Reject(400, "Transfer-Encoding in an HTTP/1.0 request")
        body_length = int(length) if lengths else None
        if body_length is not None and body_length > self.limits.max_body > 0:
            raise _Reject(413, f"request body larger than {self.limits.max_body} bytes")
        if (codings or body_length) and self.parser.should_upgrade():
            # llhttp would not read the body of a request it takes for an upgrade; nor does the proxy upgrade
            raise _Reject(400, "Upgrade on a request with a body")
        url = self.url
        if url[:7].lower() == b"http://" or url[:8].lower() == b"https://":
            url = self._absolute_form(url)
        if url.startswith(b"/"):
            raw_path, _, query = url.partition(b"?")
        elif url == b"*" and method == "OPTIONS":
            raw_path, query = b"*", b""
        else:
            raise _Reject(400, "the request target must be a path (origin-form) or an absolute URL")
        # `bytes.find`, not `b"#" in query`: `in` on bytes first tries its operand as an integer and raises and
        # clears a TypeError doing so (some 2,500 instructions, more than the rest of this test)
        if query.find(b"#") >= 0:
            raise _Reject(400, "a fragment in the request target")
        keep_alive = self.parser.should_keep_alive() and not close and not self.stopping
        path = raw_path.decode("latin-1")
        scope: Scope = {
            "type": "http",
            "asgi": _ASGI,
            "http_version": version,
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "method": method,
            "root_path": "",
            "path": unquote(path) if "%" in path else path,
            "raw_path": raw_path,
            "query_string": query,
            "headers": self.headers,
        }
        return RequestCycle(
            self,
            scope,
            keep_alive=keep_alive,
            expect_continue=expect_continue,
            body_length=body_length,
            chunked=codings > 0,
        )

    def _absolute_form(self, url: bytes) -> bytes:
        """An absolute-form target, which a server MUST accept (RFC 9112 §3.2.2): its authority replaces ``Host``
        (the received one is ignored), its path and query are the target."""
        rest = url.partition(b"://")[2]
        end = min([i for i in (rest.find(b"/"), rest.find(b"?")) if i >= 0], default=len(rest))
        authority, path = rest[:end], rest[end:]
        if not authority or not set(authority) <= _AUTHORITY:
            raise _Reject(400, "the absolute URL's authority is not a host[:port]")
        self.headers[:] = [(n, authority if n == b"host" else v) for n, v in self.headers]
        return path if path.startswith(b"/") else b"/" + path

    # responses produced by the server itself
    def reject(self, status: int, detail: str) -> None:
        """Refuse the request being read (its head or its body is bad, late or too large): after the responses to
        the requests read before it, answer `status` and close. Nothing more is read from the connection."""
        if self.transport is None or self.closing:
            return
        self.reading_stopped = True
        self.in_head = False
        broken, self.parsing = self.parsing, None
        if broken is not None:
            broken.disconnected = True  # its body will never be whole: the app sees the client gone
            broken.wake()
            if broken in self.pipeline:
                self.pipeline.remove(broken)
        running = self.cycle
        if (running is not None and running is not broken) or self.pipeline:
            self.refusal = (status, detail)  # `_next_cycle` sends it in its turn
            self.pause_reading()
            return
        if running is not None and running.response_started:
            self.abort()  # the refused request's own response has begun: it cannot become the error
            return
        self._write_refusal(status, detail)
        self.close()

    def _write_refusal(self, status: int, detail: str) -> None:
        assert self.transport is not None
        body = error_body(status, _ERROR_CODES.get(status, "bad_request"), detail)
        self.transport.write(
            b"HTTP/1.1 %d %b\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%b"
            % (status, REASONS.get(status, b""), len(body), body)
        )

    def _on_deadline(self) -> None:
        if self.lingering:
            self.abort()
        elif self.in_head:
            if self.read_paused:
                self.timer.arm(self.limits.header_timeout)  # the rest of the head waits on us, not the client
            else:
                self.reject(408, "request head not received in time")
        elif self.discarding is not None:
            self.close()  # the rest of a body we answered early did not come in time
        elif self.cycle is None and self.parsing is None and not self.pipeline and not self.next_when_drained:
            self.close(linger=False)  # idle keep-alive connection

    # app driving
    def _start(self, cycle: RequestCycle) -> None:
        """Give `cycle` to the connection's task: wake it where it waits for a request, or start it. Never eagerly:
        measured, running the app at once costs more CPU per request under load than it saves, as requests then no
        longer share the loop's turns (bench/proxy/profile_summary.md)."""
        self.cycle = cycle
        if self.parked is not None:
            self._unpark()
        elif not self.serving:
            self.serving = True
            self.loop.create_task(self._serve())
        # else the task is finishing the cycle before and takes this one next

    def _unpark(self) -> None:
        parked, self.parked = self.parked, None
        if parked is not None and not parked.done():
            parked.set_result(None)

    async def _serve(self) -> None:
        """The connection's one task: run the app for each request in turn, then wait for the next. One task per
        connection, not per request: creating and registering a task (asyncio's `WeakSet` of tasks, run as Python)
        cost more than the future a waiting task needs. It ends when the connection does."""
        try:
            while True:
                cycle = self.cycle
                if cycle is None:
                    if self.closing:
                        return
                    parked = self.parked = self.loop.create_future()
                    await parked
                    if self.cycle is None:  # woken by `close`, `abort` or `connection_lost`
                        return
                    continue
                await self._run(cycle)
                if self.cycle is not None:
                    # the next request (pipelined, or read while this one finished) waits for the loop's next turn,
                    # as a task of its own would: a pipelining client does not keep the loop to itself
                    await asyncio.sleep(0)
        finally:
            self.serving = False
            self.parked = None

    async def _run(self, cycle: RequestCycle) -> None:
        try:
            await self.app(cycle.scope, cycle.receive, cycle.send)
        except ClientDisconnected:
            pass
        except BaseException as exc:
            if not cycle.response_started and not self.closing:
                log.exception("unhandled error in ASGI app")
                await cycle.send_error(500, "internal error in the proxy")
            else:
                if not isinstance(exc, (asyncio.CancelledError, ConnectionError, ProxyError)):
                    log.exception("unhandled error in ASGI app after the response started")
                self.abort()
            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                raise
        if not cycle.response_complete and not self.closing:
            if cycle.response_started:
                self.abort()
            else:
                await cycle.send_error(500, "the app returned no response")
        self._cycle_done(cycle)

    def _cycle_done(self, cycle: RequestCycle) -> None:
        self.cycle = None
        if self.closing:
            return
        if not cycle.keep_alive or self.stopping or cycle.disconnected:
            self.close()
            return
        if not cycle.complete:
            # Answered before its body arrived, and the rest was small enough to promise keep-alive
            # (`RequestCycle._can_discard_rest`): read it and drop it, then go on.
            self.discarding = cycle
            cycle.discard = True
            cycle.body = bytearray()
            self.resume_reading()
            self.timer.arm(self.limits.body_timeout)
            return
        self._next_cycle()

    def _next_cycle(self) -> None:
        if self.closing:
            return
        if self.write_paused:
            self.next_when_drained = True  # `resume_writing` comes back here once the client has read
            return
        if self.pipeline:
            self._start(self.pipeline.popleft())
            if not self.pipeline:
                self.resume_reading()
            return
        if self.refusal is not None:
            status, detail = self.refusal
            self._write_refusal(status, detail)
            self.close()
            return
        self.resume_reading()
        if self.parsing is None and not self.in_head:
            self.timer.arm(self.limits.keepalive_timeout)

    # helpers
    def pause_reading(self) -> None:
        if not self.read_paused and self.transport is not None and not self.closing:
            self.read_paused = True
            if self.transport_reading:
                self.transport_reading = False
                self.transport.pause_reading()

    def resume_reading(self) -> None:
        if not self.read_paused or self.transport is None or self.closing or self.reading_stopped:
            return
        self.read_paused = False
        if self.feeding:
            return  # the feed under way goes on with its bytes
        if self.stash:
            stash, self.stash = self.stash, b""
            self._feed(stash)  # resumes the transport once the stash is parsed and nothing paused again
        else:
            self._resume_transport()

    def _resume_transport(self) -> None:
        if self.transport is not None and not self.transport_reading and not self.closing and not self.reading_stopped:
            self.transport_reading = True
            self.transport.resume_reading()

    def shutdown(self) -> None:
        self.stopping = True
        if self.cycle is None:
            self.close(linger=self.in_head or self.parsing is not None)  # an idle client is sending nothing

    def close(self, *, linger: bool = True) -> None:
        """Close once what was written has gone: half-close first and, with `linger`, read and drop what the client
        still sends for a moment (RFC 9112 §9.6), so that unread bytes do not turn the close into a reset."""
        transport = self.transport
        if transport is None or self.closing:
            return
        self.closing = True
        self._unpark()
        if not linger or not transport.can_write_eof():
            self.timer.disarm()
            transport.close()
            return
        self.lingering = True
        transport.write_eof()
        if not self.transport_reading:
            self.transport_reading = True
            transport.resume_reading()
        self.timer.arm(LINGER_SECONDS)

    def abort(self) -> None:
        if self.transport is not None:
            self.closing = True
            self._unpark()
            self.transport.abort()


__all__ = ["ConnectionRegistry", "HttpProtocol"]
