"""A strict HTTP/1.1 server protocol on asyncio and httptools (llhttp) that runs an ASGI app.

Why our own: the proxy must refuse, never pass on, ambiguous requests, and a general ASGI server does not check
all of these. Rejected with a response and a closed connection:

* any request llhttp cannot parse (bad request line, obs-fold, whitespace before a colon, bad chunk sizes,
  invalid or duplicated ``Content-Length`` values, …) → 400;
* ``Content-Length`` together with ``Transfer-Encoding``, more than one ``Content-Length`` or
  ``Transfer-Encoding`` header, a ``Transfer-Encoding`` other than ``chunked`` → 400;
* HTTP/1.1 without exactly one ``Host``, HTTP/1.0 with more than one → 400;
* a request target that is not origin-form (``/path?query``; ``*`` only for OPTIONS) → 400;
* a URL over `ServerLimits.max_url_bytes` → 414; a head over `max_header_bytes` or `max_headers` → 431;
* a head that takes longer than `header_timeout` to arrive (slowloris) → 408 and close; a request body that
  stalls for `body_timeout` → 408 (if no response started) and close; an idle keep-alive connection is closed
  after `keepalive_timeout`;
* more than `max_connections` open connections → new ones are closed before a byte is read;
* HTTP versions other than 1.0 and 1.1 → 505; ``Upgrade`` is not supported (the request is served without it).

Bodies stream with back-pressure both ways: reading from the client pauses while more than `high_water` bytes
wait for the app, and the app's `send` waits while the socket's write buffer is full. The server adds no headers
of its own (no ``Date``, no ``Server``) except the framing it needs: ``Transfer-Encoding: chunked`` for a streamed
body without a length, ``Content-Length`` for a body sent in one piece, ``Connection: close`` when closing.
``Expect: 100-continue`` is answered when the app first reads the body.
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
        self.registry = registry
        self.scheme = scheme
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.client: tuple[str, int] | None = None
        self.server: tuple[str, int] | None = None
        self.cycle: RequestCycle | None = None  # the one the app is running
        self.pipeline: deque[RequestCycle] = deque()
        self.parsing: RequestCycle | None = None  # the one whose body is arriving
        self.in_head = False
        self.head_bytes = 0
        self.header_count = 0
        self.header_size = 0
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.timer = LazyTimer(self.loop, self._head_timeout)
        self.read_paused = False
        self.write_paused = False
        self.drain_waiters: list[asyncio.Future[None]] = []
        self.closing = False
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
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        self.client = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None
        self.server = (str(sock[0]), int(sock[1])) if isinstance(sock, tuple) else None
        self.timer.arm(self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.registry.discard(self)
        self.timer.cancel()
        for cycle in (self.cycle, self.parsing, *self.pipeline):
            if cycle is not None:
                cycle.disconnected = True
                cycle.wake()
        for waiter in self.drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.drain_waiters.clear()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
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
        if self.closing:
            return
        if self.in_head or self.parsing is None:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # served as a plain request: the Upgrade header is hop-by-hop and never forwarded
        except httptools.HttpParserError as exc:
            # httptools wraps exceptions raised in callbacks; the reason was kept aside
            rejected, self.rejected = self.rejected, None
            if rejected is not None:
                self.reject(rejected.status, rejected.detail)
            else:
                self.reject(400, f"malformed request: {exc}")
            return
        if self.in_head and self.head_bytes > self.limits.max_header_bytes + self.limits.max_url_bytes:
            self.reject(431, "request head too large")

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
        self.header_count += 1
        self.header_size += len(name) + len(value) + 4
        if self.header_count > self.limits.max_headers:
            self._refuse(431, "too many request headers")
        if self.header_size > self.limits.max_header_bytes:
            self._refuse(431, "request headers too large")
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
        if self.cycle is None:
            self.cycle = cycle
            self.loop.create_task(self._run(cycle))
        else:
            self.pipeline.append(cycle)
            self.pause_reading()

    def on_body(self, body: bytes) -> None:
        cycle = self.parsing
        if cycle is None:
            return
        cycle.body.extend(body)
        if len(cycle.body) > self.limits.high_water:
            self.pause_reading()
        cycle.wake()

    def on_message_complete(self) -> None:
        cycle = self.parsing
        if cycle is None:
            return
        cycle.complete = True
        self.parsing = None
        cycle.wake()

    # request validation
    def _new_cycle(self) -> RequestCycle:
        version = self.parser.get_http_version()
        if version not in ("1.1", "1.0"):
            raise _Reject(505, f"HTTP/{version} is not supported")
        method = self.parser.get_method().decode("ascii")
        hosts = lengths = codings = 0
        expect_continue = False
        for name, value in self.headers:
            if name == b"host":
                hosts += 1
            elif name == b"content-length":
                lengths += 1
                if not value.isdigit():
                    raise _Reject(400, "malformed Content-Length")
            elif name == b"transfer-encoding":
                codings += 1
                if value.strip().lower() != b"chunked":
                    raise _Reject(400, "only 'Transfer-Encoding: chunked' is accepted")
            elif name == b"expect" and value.lower() == b"100-continue":
                expect_continue = True
        if hosts > 1 or (hosts == 0 and version == "1.1"):
            raise _Reject(400, "a request needs exactly one Host header")
        if lengths > 1 or codings > 1:
            raise _Reject(400, "repeated Content-Length or Transfer-Encoding")
        if lengths and codings:
            raise _Reject(400, "Content-Length together with Transfer-Encoding")
        url = self.url
        if url.startswith(b"/"):
            raw_path, _, query = url.partition(b"?")
        elif url == b"*" and method == "OPTIONS":
            raw_path, query = b"*", b""
        else:
            raise _Reject(400, "the request target must be a path (origin-form)")
        if b"#" in query:
            raise _Reject(400, "a fragment in the request target")
        keep_alive = self.parser.should_keep_alive() and not self.stopping
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": version,
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "method": method,
            "root_path": "",
            "path": unquote(raw_path.decode("latin-1")) if b"%" in raw_path else raw_path.decode("latin-1"),
            "raw_path": raw_path,
            "query_string": query,
            "headers": self.headers,
        }
        return RequestCycle(self, scope, keep_alive=keep_alive, expect_continue=expect_continue)

    # responses produced by the server itself
    def reject(self, status: int, detail: str) -> None:
        if self.transport is None or self.closing:
            return
        if self.cycle is None or not self.cycle.response_started:
            body = error_body(status, "bad_request", detail)
            self.transport.write(
                b"HTTP/1.1 %d %b\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%b"
                % (status, REASONS.get(status, b""), len(body), body)
            )
        self.close()

    def _head_timeout(self) -> None:
        if self.in_head:
            self.reject(408, "request head not received in time")
        elif self.cycle is None:
            self.close()  # idle keep-alive connection

    # app driving
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
        if not cycle.keep_alive or not cycle.complete or self.stopping:
            self.close()
            return
        if self.pipeline:
            nxt = self.pipeline.popleft()
            self.cycle = nxt
            self.loop.create_task(self._run(nxt))
            if not self.pipeline:
                self.resume_reading()
            return
        self.resume_reading()
        self.timer.arm(self.limits.keepalive_timeout)

    # helpers
    def pause_reading(self) -> None:
        if not self.read_paused and self.transport is not None and not self.closing:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused and self.transport is not None and not self.closing:
            self.read_paused = False
            self.transport.resume_reading()

    def shutdown(self) -> None:
        self.stopping = True
        if self.cycle is None:
            self.close()

    def close(self) -> None:
        if self.transport is not None and not self.closing:
            self.closing = True
            self.timer.disarm()
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.closing = True
            self.transport.abort()


__all__ = ["ConnectionRegistry", "HttpProtocol"]
