"""The proxy's one HTTP client for outbound calls from the data plane: a small HTTP/1.1 client on asyncio and
httptools (forwarding, shadow mirrors, health checks, forward auth and the comparator's noise samples).

Chosen by measurement over aiohttp (see README): it is faster per request, and it sends exactly what the proxy
decided — the canonical path byte for byte (no URL re-quoting), no invented headers (no User-Agent,
Accept-Encoding, Host rewriting), no body decoding — which a general client does not promise.

One `UpstreamPool` per upstream (an `Origin`: the route table's `Upstream` is one): keep-alive connections (LIFO
idle list, closed by a reaper once idle for `idle_seconds`, `IDLE_SECONDS` by default), a cap on open connections
(`max_connections`) and on requests waiting for one (`max_pending`, beyond which `UpstreamOverloaded`), connect and
read timeouts (`UpstreamTimeout`), a circuit breaker. Bodies stream both ways with back-pressure: at most `chunk`
bytes are buffered per connection before reading pauses.

A connection is reused only when clean (issue 9, class 4): its response was read to its end, with nothing after
it, its request was sent whole, and no byte (nor EOF) arrived while it sat idle — bytes that arrive while idle
close it at once, and a last non-blocking readability check just before reuse catches those the loop has not
read yet (a dead connection is then skipped for a fresh one, whatever the method). Any byte after a complete
response, any framing error or unread body discards the connection. Trailer fields of a chunked response are
dropped, never merged into its headers (class 3).
"""

from __future__ import annotations

import asyncio
import random
import select
import ssl
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Final, Protocol, cast
from urllib.parse import urlsplit

import httptools

from strangler_proxy.errors import (
    CircuitOpen,
    UpstreamBroken,
    UpstreamConnectError,
    UpstreamError,
    UpstreamOverloaded,
    UpstreamTimeout,
)
from strangler_proxy.http.breaker import BreakerState, CircuitBreaker
from strangler_proxy.http.headers import FRAMING, Headers
from strangler_proxy.http.timer import LazyTimer

MAX_RESPONSE_HEADER_BYTES = 64 * 1024
# Response field names as servers usually spell them, lower-cased once: `on_header` looks them up rather than call
# `bytes.lower` on each (any other spelling is lowered as before).
_LOWERED: Final = {
    spelling: name
    for name in (
        b"server",
        b"date",
        b"content-type",
        b"content-length",
        b"transfer-encoding",
        b"connection",
        b"keep-alive",
        b"last-modified",
        b"etag",
        b"accept-ranges",
        b"cache-control",
        b"expires",
        b"vary",
        b"content-encoding",
        b"content-language",
        b"location",
        b"set-cookie",
        b"x-request-id",
        b"x-frame-options",
        b"x-content-type-options",
        b"referrer-policy",
        b"cross-origin-opener-policy",
        b"allow",
    )
    for spelling in (name, b"-".join(part.capitalize() for part in name.split(b"-")))
} | {b"ETag": b"etag", b"X-Request-ID": b"x-request-id", b"WWW-Authenticate": b"www-authenticate"}
IDLE_SECONDS = 4.0  # below the 5 s keep-alive of uvicorn/granian/gunicorn, so a pooled connection is rarely stale
PROBE_INTERVAL = 0.25  # seconds between health probes while a circuit is open (jittered ±50%)


class Origin(Protocol):
    """Where a pool connects and how long it waits (the route table's `Upstream` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...  # scheme://host:port
    @property
    def connect_timeout(self) -> float: ...
    @property
    def read_timeout(self) -> float: ...
    @property
    def max_connections(self) -> int: ...
    @property
    def max_pending(self) -> int: ...
    @property
    def health_path(self) -> str: ...  # probed while the circuit is open ("" : "/")


class _Connection(asyncio.Protocol):
    def __init__(self, pool: UpstreamPool) -> None:
        self._pool = pool
        self._loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.reused = False
        self.idle = False  # in the pool's idle list: any byte that arrives now makes it unusable
        self.idle_since = 0.0
        self._poller: select.poll | None = None
        self._timer = LazyTimer(self._loop, self._expire_waiter)
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: Headers = []
        self.framed = False  # a Content-Length or Transfer-Encoding among `headers`
        self.head_done = False
        self.informational = False
        self.complete = False
        self.final_done = False  # the final response's message ended: any further message is a stray one
        self.keep_alive = True
        self.until_eof = False
        self.is_head = False
        self.any_bytes = False
        self.request_sent = False  # the whole request, body included, went out: only then may the conn be reused
        self.header_bytes = 0
        self.error: UpstreamError | None = None
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.read_paused = False
        self.write_paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # registered once (no system call): each reuse then costs one poll(2) with a zero timeout
            self._poller = select.poll()
            self._poller.register(sock.fileno(), select.POLLIN)

    def data_received(self, data: bytes) -> None:
        self.any_bytes = True
        if self.idle:
            self.close()  # a byte nobody asked for: never parsed as the next request's response
            return
        if self.final_done or (self.complete and self.is_head):
            # bytes after the end of the response (or after a HEAD response's head): the framing the upstream
            # declared was wrong, or it is sending something else; the connection is never reused
            self._fail(UpstreamBroken(self._pool.name, "bytes after the end of the response"))
            self.close()
            return
        if not self.head_done:
            self.header_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamBroken(self._pool.name, "the upstream switched protocols, which was not asked for"))
            self.close()
        except httptools.HttpParserError as exc:
            self._fail(self.error or UpstreamBroken(self._pool.name, f"malformed response: {exc}"))
            self.close()
            return
        # counted only while the head is still incomplete, so body bytes that came along never count
        if not self.head_done and self.header_bytes > MAX_RESPONSE_HEADER_BYTES:
            self._fail(UpstreamBroken(self._pool.name, "response head too large"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._timer.cancel()
        if self.head_done and not self.complete and self.until_eof:
            self.complete = True
        elif not self.complete:
            self._fail(UpstreamBroken(self._pool.name, "connection closed before the response was complete"))
        self._wake()
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def readable(self) -> bool:
        """Whether a byte or EOF waits on the socket (one poll, no blocking): an idle connection must show neither."""
        if self._poller is None:
            return False
        try:
            return bool(self._poller.poll(0))  # data, EOF, or an error: none may precede a response
        except (OSError, ValueError):
            return True

    # httptools callbacks
    def on_message_begin(self) -> None:
        if self.final_done:
            self.error = UpstreamBroken(self._pool.name, "a second response after the end of the response")
            raise self.error

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.head_done:
            return  # a trailer field of a chunked response: never a header (issue 9, class 3)
        lowered = _LOWERED.get(name)  # the usual spellings without a `lower()` each (and with their hash cached)
        if lowered is None:
            lowered = name.lower()
        self.headers.append((lowered, value))
        if lowered in FRAMING:
            self.framed = True

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            self.informational = True
            return
        # the fields' size, counted only when the bytes received so far (which hold them) could exceed the limit
        if self.header_bytes > MAX_RESPONSE_HEADER_BYTES and (
            sum(len(name) + len(value) for name, value in self.headers) > MAX_RESPONSE_HEADER_BYTES
        ):
            self.error = UpstreamBroken(self._pool.name, "response head too large")
            raise self.error  # stops the parser; data_received turns it into a failed response
        self.status = status
        self.head_done = True
        self.keep_alive = self.parser.should_keep_alive()
        if self.is_head or status in (204, 304):
            self.complete = True
        else:
            self.until_eof = not self.framed
        if self.is_head:
            self.keep_alive = False  # httptools cannot be told the response has no body; do not reuse
        if self._waiter is not None:
            self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered >= self._pool.chunk and not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()
        if self._waiter is not None:
            self._wake()

    def on_message_complete(self) -> None:
        if self.informational:
            self.informational = False
            self.headers = []
            self.framed = False
            return
        self.complete = True
        self.final_done = True
        if self._waiter is not None:
            self._wake()

    # helpers
    def _fail(self, error: UpstreamError) -> None:
        if self.error is None:
            self.error = error
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None  # woken once: the parser's next callbacks skip the call (`wait` makes a new one)
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, seconds: float, what: str) -> None:
        """Wait for the parser to make progress, at most `seconds` (on the connection's one lazy timer)."""
        waiter = self._loop.create_future()
        self._waiter = waiter
        self._timer.arm(seconds)
        try:
            await waiter
        except TimeoutError:
            raise UpstreamTimeout(self._pool.name, f"no {what} within {seconds:g}s") from None
        finally:
            self._timer.disarm()
            self._waiter = None

    def _expire_waiter(self) -> None:
        if self._waiter is not None:
            time_out(self._waiter)

    async def drain(self) -> None:
        if not self.write_paused or self.closed:
            return
        self._drain = self._loop.create_future()
        await self._drain
        self._drain = None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def time_out(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())


class _Chunks:
    """A response's body as it arrives, chunk by chunk, resuming the upstream's reads as the buffer drains (an
    iterator class rather than an async generator, which mypyc does not compile)."""

    __slots__ = ("_conn", "_pool", "_timeout")

    def __init__(self, pool: UpstreamPool, conn: _Connection) -> None:
        self._pool = pool
        self._conn = conn
        self._timeout = pool.upstream.read_timeout

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        conn = self._conn
        while True:
            if conn.chunks:
                chunk = conn.chunks.popleft()
                conn.buffered -= len(chunk)
                if conn.read_paused and conn.buffered < self._pool.chunk and conn.transport is not None:
                    conn.read_paused = False
                    conn.transport.resume_reading()
                return chunk
            if conn.complete:
                raise StopAsyncIteration
            if conn.error is not None:
                raise conn.error
            await conn.wait(self._timeout, "response body bytes")


class UpstreamResponse:
    """A response whose head has arrived; the body streams through `chunks()`. Always `release()` it."""

    __slots__ = ("_conn", "_pool", "_released", "headers", "reused", "status")

    def __init__(self, pool: UpstreamPool, conn: _Connection) -> None:
        self._pool = pool
        self._conn = conn
        self._released = False
        self.status = conn.status
        self.headers = conn.headers
        self.reused = conn.reused

    @property
    def error(self) -> UpstreamError | None:
        """Why the response is broken (bad framing, bytes after its end, a cut), once known; None while it holds."""
        return self._conn.error

    def complete_body(self) -> bytes | None:
        """The whole body if it has already arrived (the common small response), else None: stream `chunks()`."""
        conn = self._conn
        if not conn.complete or conn.error is not None:
            return None
        chunks = conn.chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        conn.buffered = 0
        return body

    def chunks(self) -> AsyncIterator[bytes]:
        return _Chunks(self._pool, self._conn)

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        conn = self._conn
        reusable = (
            conn.complete
            and conn.keep_alive
            and conn.request_sent
            and conn.error is None
            and not conn.closed
            and not conn.chunks
        )
        self._pool.release(conn, reusable=reusable)


def request_head(
    method: str, target: bytes, headers: Headers, netloc: bytes, length: int | None, chunked: bool
) -> bytes:
    """The request head as it goes upstream. Its framing is the caller's decision about the body it sends, never a
    header's: any ``Content-Length`` or ``Transfer-Encoding`` in `headers` is left out, and the head says
    ``Transfer-Encoding: chunked`` (`chunked`), ``Content-Length: length``, or nothing (no body). ``Host`` is the
    client's when `headers` has one, else `netloc`."""
    head = [method.encode(), b" ", target, b" HTTP/1.1\r\n"]
    has_host = False
    for name, value in headers:
        if name in FRAMING:
            continue
        if name == b"host":
            has_host = True
        # four appends, not `head += (...)`: no tuple to build and free per field (compiled, about half the cost)
        head.append(name)
        head.append(b": ")
        head.append(value)
        head.append(b"\r\n")
    if not has_host:
        head += (b"host: ", netloc, b"\r\n")
    if chunked:
        head.append(b"transfer-encoding: chunked\r\n")
    elif length is not None:
        head.append(b"content-length: %d\r\n" % length)
    head.append(b"\r\n")
    return b"".join(head)


class UpstreamPool:
    def __init__(
        self,
        upstream: Origin,
        *,
        chunk: int = 64 * 1024,
        breaker_failures: int = 5,
        breaker_cooldown: float = 5.0,
        on_breaker_change: Callable[[str, BreakerState], None] | None = None,
        idle_seconds: float = IDLE_SECONDS,
        probe_interval: float = PROBE_INTERVAL,
    ) -> None:
        self.upstream = upstream
        self.idle_seconds = idle_seconds
        self.probe_interval = probe_interval
        self.name = upstream.name
        self.chunk = chunk
        parts = urlsplit(upstream.url)
        self._ssl: ssl.SSLContext | None = ssl.create_default_context() if parts.scheme == "https" else None
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self._ssl else 80)
        self.netloc = parts.netloc.encode()
        self.loop = asyncio.get_running_loop()
        self._idle: list[_Connection] = []
        self._active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closing = False
        self._reaper: asyncio.TimerHandle | None = None
        self._prober: asyncio.Task[None] | None = None
        self._notify = on_breaker_change
        self.breaker = CircuitBreaker(
            failures=breaker_failures, cooldown=breaker_cooldown, on_change=self._breaker_changed
        )

    def _breaker_changed(self, state: BreakerState) -> None:
        if self._notify is not None:
            self._notify(self.name, state)
        if state is BreakerState.OPEN and self._prober is None and self.probe_interval > 0 and not self._closing:
            self._prober = self.loop.create_task(self._probe_while_open())

    async def _probe_while_open(self) -> None:
        """While the circuit is open, GET the health path every `probe_interval` (jittered, so replicas do not probe
        in step); the first healthy answer half-opens it, so traffic returns within about one interval of the
        upstream answering, through one probe request first (no thundering herd)."""
        try:
            while not self._closing and self.breaker.state is BreakerState.OPEN:
                await asyncio.sleep(self.probe_interval * random.uniform(0.5, 1.5))
                if self.breaker.state is BreakerState.OPEN and await self._healthy():
                    self.breaker.healthy()
        finally:
            self._prober = None

    async def _healthy(self) -> bool:
        """One health check on a connection of its own (never the pool's, never counted against the breaker)."""
        upstream = self.upstream
        timeout = min(upstream.connect_timeout + upstream.read_timeout, max(self.probe_interval * 4, 1.0))
        conn: _Connection | None = None
        try:
            async with asyncio.timeout(timeout):
                _, conn = await self.loop.create_connection(
                    lambda: _Connection(self), self.host, self.port, ssl=self._ssl
                )
                assert conn.transport is not None
                headers = [(b"user-agent", b"strangler-health"), (b"connection", b"close")]
                conn.transport.write(
                    request_head("GET", upstream.health_path.encode() or b"/", headers, self.netloc, None, False)
                )
                while not conn.head_done and conn.error is None and not conn.closed:
                    await conn.wait(timeout, "health answer")
                return conn.head_done and 200 <= conn.status < 400
        except (OSError, TimeoutError, UpstreamError):
            return False
        finally:
            if conn is not None:
                conn.close()

    @property
    def open_connections(self) -> int:
        return self._active + len(self._idle)

    def _take_idle(self) -> _Connection | None:
        """A clean idle connection, or None. Stale ones, those closed by the server and those on which bytes arrived
        that the loop has not read yet are closed, never sent on; no byte of this request went anywhere, so a fresh
        connection is right for any method."""
        now = self.loop.time()
        idle = self._idle
        while idle:
            conn = idle.pop()
            conn.idle = False
            if conn.closed or now - conn.idle_since > self.idle_seconds or conn.readable():
                conn.close()
                continue
            conn.reused = True
            self._active += 1
            return conn
        return None

    async def _acquire(self) -> _Connection:
        while True:
            conn = self._take_idle()
            if conn is not None:
                return conn
            if self._active < self.upstream.max_connections:
                break
            if len(self._waiters) >= self.upstream.max_pending:
                raise UpstreamOverloaded(self.name, f"{len(self._waiters)} requests already wait for a connection")
            waiter = self.loop.create_future()
            self._waiters.append(waiter)
            handle = self.loop.call_later(self.upstream.read_timeout, time_out, waiter)
            try:
                await waiter
            except TimeoutError:
                raise UpstreamTimeout(self.name, "no free connection in time") from None
            finally:
                handle.cancel()
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        self._active += 1
        try:
            _, protocol = await asyncio.wait_for(
                self.loop.create_connection(lambda: _Connection(self), self.host, self.port, ssl=self._ssl),
                self.upstream.connect_timeout,
            )
        except TimeoutError:
            self._active -= 1
            self._wake_waiter()
            raise UpstreamTimeout(self.name, f"connect timeout after {self.upstream.connect_timeout:g}s") from None
        except OSError as exc:
            self._active -= 1
            self._wake_waiter()
            raise UpstreamConnectError(self.name, f"cannot connect: {exc.strerror or exc}") from exc
        except BaseException:
            self._active -= 1
            self._wake_waiter()
            raise
        return protocol

    def release(self, conn: _Connection, *, reusable: bool) -> None:
        self._active -= 1
        if reusable and not self._closing:
            if conn.read_paused and conn.transport is not None:
                conn.transport.resume_reading()  # idle, it must see (and be closed by) any byte that arrives
            conn._reset()
            conn.idle = True
            conn.idle_since = self.loop.time()
            self._idle.append(conn)
            if self._reaper is None:
                self._reaper = self.loop.call_at(conn.idle_since + self.idle_seconds, self._reap)
        else:
            conn.close()
        if self._waiters:
            self._wake_waiter()

    def _reap(self) -> None:
        """Close the connections idle for `idle_seconds` on time (not only when the pool is next used). The idle
        list is in order of release, the longest idle first; one timer runs while the list is not empty."""
        self._reaper = None
        idle = self._idle
        deadline = self.loop.time() - self.idle_seconds
        expired = 0
        while expired < len(idle) and (idle[expired].idle_since <= deadline or idle[expired].closed):
            idle[expired].close()
            expired += 1
        del idle[:expired]
        if idle:
            self._reaper = self.loop.call_at(idle[0].idle_since + self.idle_seconds, self._reap)

    def _wake_waiter(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def request(
        self,
        method: str,
        target: bytes,
        headers: Headers,
        *,
        body: AsyncIterator[bytes] | None = None,
        chunked: bool = False,
        length: int | None = None,
    ) -> UpstreamResponse:
        """Send a request and return once the response head arrived (the body streams afterwards).

        `headers` go out as given, except framing: the body is `length` bytes, or sent with chunked transfer-coding
        (`chunked`, or a body without a `length`); see `request_head`. Raises an `UpstreamError`, or whatever
        `body` raised (`ClientDisconnected` when the client went away).
        """
        if not self.breaker.allow():
            raise CircuitOpen(self.name, "circuit open after repeated failures")
        conn = self._take_idle()  # the common case, without a coroutine of its own
        if conn is None:
            try:
                conn = await self._acquire()
            except (UpstreamConnectError, UpstreamTimeout):
                self.breaker.failure()
                raise
            except BaseException:
                self.breaker.abandon()
                raise
        conn.is_head = method == "HEAD"
        try:
            if body is None:  # nothing to stream: the head is the request (no coroutine for `_send`)
                self._send_head(conn, method, target, headers, length, chunked)
                conn.request_sent = True
            else:
                await self._send(conn, method, target, headers, body, chunked, length)
            if not conn.head_done:
                failed = conn.error  # a local: `conn.error` itself stays unnarrowed, it may be set during the wait
                if failed is not None:
                    raise failed
                await conn.wait(self.upstream.read_timeout, "response head")
                if not conn.head_done:
                    raise conn.error or UpstreamBroken(self.name, "no response")
        except UpstreamError:
            self.breaker.failure()
            self.release(conn, reusable=False)
            raise
        except BaseException:
            self.breaker.abandon()
            self.release(conn, reusable=False)
            raise
        self.breaker.success()
        return UpstreamResponse(self, conn)

    def _send_head(
        self, conn: _Connection, method: str, target: bytes, headers: Headers, length: int | None, chunked: bool
    ) -> None:
        if conn.closed:
            raise UpstreamBroken(self.name, "connection closed before the request was sent")
        assert conn.transport is not None
        conn.transport.write(request_head(method, target, headers, self.netloc, length, chunked))

    async def _send(
        self,
        conn: _Connection,
        method: str,
        target: bytes,
        headers: Headers,
        body: AsyncIterator[bytes] | None,
        chunked: bool,
        length: int | None,
    ) -> None:
        transport = conn.transport
        assert transport is not None
        chunked = chunked or (body is not None and length is None)  # a body of unknown length is never unframed
        self._send_head(conn, method, target, headers, length, chunked)
        if body is None:
            conn.request_sent = True
            return
        async for piece in body:
            if conn.closed or conn.head_done:
                break  # the upstream answered early or went away; what it said decides
            if not piece:
                continue
            if chunked:
                transport.write(b"%x\r\n%b\r\n" % (len(piece), piece))
            else:
                transport.write(piece)
            if conn.write_paused:
                await conn.drain()
        else:
            if chunked and not conn.closed:
                transport.write(b"0\r\n\r\n")
            conn.request_sent = True
        if conn.closed and not conn.head_done:
            raise conn.error or UpstreamBroken(self.name, "connection closed while the request body was sent")

    async def close(self) -> None:
        self._closing = True
        if self._prober is not None:
            self._prober.cancel()
            self._prober = None
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        for conn in self._idle:
            conn.close()
        self._idle.clear()
