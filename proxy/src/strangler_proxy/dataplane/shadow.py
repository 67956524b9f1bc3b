"""Shadow traffic: mirror a request to the service after the monolith answered the client, fire and forget.

Mirroring never delays or changes the client's response: the proxy only copies bytes it already streams (the
request body and the monolith's response, each up to `ProxySettings.shadow_body_limit`) and, once the client's
response is complete, offers a job to a bounded queue with `put_nowait`. When the queue is full the job is dropped
and counted. A fixed number of workers send the jobs on connection pools of their own (`shadow_workers`
connections per service), so shadow load never takes a connection from client traffic, and each waits (up to
`IDLE_WAIT`) for a moment without client requests, so mirrors run on CPU that clients leave idle.

Mirrored requests carry ``X-Strangler-Shadow: 1`` (control headers are stripped from clients, so only the proxy can
set it): a service can use it to skip side effects such as sending mail. Just before it is sent, a mirror's headers
go through `prepare` (`ProxyApp` signs the identity the primary path would sign for that service, so a signed-in
read is compared as that user); `prepare` answering None skips the mirror (counted `skipped_identity_refused`).

For the comparator (issue 6): each finished mirror becomes a `ShadowResult` (request, primary response, shadow
response or error) that goes to every `on_shadow` callback and into a ring (`recent()`) bounded in count and in
bytes (`ShadowResult.size`: a result can hold up to three bodies of `shadow_body_limit` each).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from strangler_proxy.dataplane.metrics import ProxyMetrics
from strangler_proxy.errors import ProxyError, UpstreamError
from strangler_proxy.http.client import UpstreamPool
from strangler_proxy.http.headers import Headers

log = logging.getLogger("strangler.shadow")

SHADOW_HEADER = (b"x-strangler-shadow", b"1")
IDLE_WAIT = 0.05  # seconds a mirror waits for a moment without client requests before it goes anyway


@dataclass(frozen=True, slots=True)
class MirroredRequest:
    request_id: str
    route: str  # the route's path template
    route_revision: int  # the route's revision when the request was routed: its evidence counts for that one only
    service: str
    method: str
    target: bytes  # canonical path + query, as the monolith received it
    headers: Headers  # as sent upstream, without framing: the mirror is sent with the body's length
    body: bytes


@dataclass(frozen=True, slots=True)
class CapturedResponse:
    status: int
    headers: Headers
    body: bytes
    truncated: bool  # the body was longer than the limit; `body` holds its start
    seconds: float


@dataclass(frozen=True, slots=True)
class ShadowResult:
    request: MirroredRequest
    primary: CapturedResponse
    shadow: CapturedResponse | None  # None when the mirror failed
    error: str | None

    @property
    def size(self) -> int:
        """Roughly the bytes this result holds: its bodies and headers."""
        parts = (self.request.headers, self.primary.headers, self.shadow.headers if self.shadow else [])
        size = len(self.request.body) + len(self.primary.body) + (len(self.shadow.body) if self.shadow else 0)
        return size + sum(len(n) + len(v) for headers in parts for n, v in headers)


ShadowCallback = Callable[[ShadowResult], None]


class ShadowPool:
    def __init__(
        self,
        *,
        workers: int,
        queue_size: int,
        ring_size: int,
        ring_bytes: int,
        body_limit: int,
        metrics: ProxyMetrics,
        pool_for: Callable[[str], UpstreamPool | None],
        prepare: Callable[[MirroredRequest], Awaitable[Headers | None]] | None = None,
    ) -> None:
        self._workers = workers
        self._queue: asyncio.Queue[tuple[MirroredRequest, CapturedResponse]] | None = None
        self._queue_size = queue_size
        self._tasks: list[asyncio.Task[None]] = []
        self._ring: deque[tuple[ShadowResult, int]] = deque()
        self._ring_size = ring_size
        self._ring_bytes = ring_bytes
        self._ring_used = 0  # bytes held by the ring
        self._callbacks: list[ShadowCallback] = []
        self.body_limit = body_limit
        self._metrics = metrics
        self._pool_for = pool_for
        self._prepare = prepare
        self.in_flight = 0
        self._idle: asyncio.Event | None = None  # set while no client request is in flight
        self._client_requests = 0

    def on_shadow(self, callback: ShadowCallback) -> Callable[[], None]:
        """Call `callback` with every finished mirror (on the event loop; keep it quick). Returns an unsubscriber."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback)

    def recent(self) -> list[ShadowResult]:
        return [result for result, _ in self._ring]

    def _keep(self, result: ShadowResult) -> None:
        size = result.size
        self._ring.append((result, size))
        self._ring_used += size
        while self._ring and (len(self._ring) > self._ring_size or self._ring_used > self._ring_bytes):
            _, dropped = self._ring.popleft()
            self._ring_used -= dropped

    def has_room(self) -> bool:
        return self._queue is None or not self._queue.full()

    def submit(self, request: MirroredRequest, primary: CapturedResponse) -> bool:
        if self._queue is None:
            self._start()
        assert self._queue is not None
        try:
            self._queue.put_nowait((request, primary))
        except asyncio.QueueFull:
            self._metrics.shadow(request.route, "dropped_queue_full")
            return False
        self._metrics.shadow(request.route, "mirrored")
        return True

    # Mirrors use the CPU that client traffic leaves: a worker waits until no client request is in flight, for at
    # most IDLE_WAIT, before sending its mirror. Under saturation mirrors therefore wait, the queue fills, and new
    # ones are dropped (and counted) instead of taking CPU from clients; the cap keeps a long download from
    # starving them.
    def client_started(self) -> None:
        self._client_requests += 1
        if self._client_requests == 1 and self._idle is not None:
            self._idle.clear()

    def client_finished(self) -> None:
        self._client_requests -= 1
        if self._client_requests == 0 and self._idle is not None:
            self._idle.set()

    async def wait_for_idle(self) -> None:
        idle = self._idle
        if idle is None or idle.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(idle.wait(), IDLE_WAIT)

    def _start(self) -> None:
        self._queue = asyncio.Queue(self._queue_size)
        self._idle = asyncio.Event()
        if self._client_requests == 0:
            self._idle.set()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._work()) for _ in range(self._workers)]

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            request, primary = await self._queue.get()
            await self.wait_for_idle()
            self.in_flight += 1
            try:
                result = await self._mirror(request, primary)
            except Exception as exc:  # a bug here must not kill the worker
                log.exception("shadow mirror failed unexpectedly")
                result = ShadowResult(request, primary, None, f"internal: {exc}")
            finally:
                self.in_flight -= 1
                self._queue.task_done()
            if result is None:
                self._metrics.shadow(request.route, "skipped_identity_refused")
                continue
            self._metrics.shadow(request.route, "completed" if result.shadow is not None else "failed")
            self._keep(result)
            for callback in list(self._callbacks):
                try:
                    callback(result)
                except Exception:
                    log.exception("on_shadow callback failed")

    async def _mirror(self, request: MirroredRequest, primary: CapturedResponse) -> ShadowResult | None:
        pool = self._pool_for(request.service)
        if pool is None:
            return ShadowResult(request, primary, None, f"service {request.service!r} is not an upstream")
        headers = request.headers
        if self._prepare is not None:
            try:
                prepared = await self._prepare(request)
            except ProxyError as exc:  # forward auth could not be asked: no identity, no mirror
                return ShadowResult(request, primary, None, f"{exc.code}: {exc}")
            if prepared is None:
                return None
            headers = prepared
        started = time.perf_counter()
        body_iter = _OnePiece(request.body) if request.body else None
        try:
            response = await pool.request(
                request.method,
                request.target,
                [*headers, SHADOW_HEADER],
                body=body_iter,
                length=len(request.body) if request.body else None,
            )
        except UpstreamError as exc:
            return ShadowResult(request, primary, None, f"{exc.code}: {exc.detail}")
        captured = bytearray()
        truncated = False
        try:
            async for chunk in response.chunks():
                room = self.body_limit - len(captured)
                if len(chunk) > room:
                    truncated = True
                captured += chunk[: max(room, 0)]
        except UpstreamError as exc:
            return ShadowResult(request, primary, None, f"{exc.code}: {exc.detail}")
        finally:
            response.release()
        shadow = CapturedResponse(
            response.status, response.headers, bytes(captured), truncated, time.perf_counter() - started
        )
        return ShadowResult(request, primary, shadow, None)

    async def drain(self) -> None:
        """Wait until every queued mirror finished (tests, graceful shutdown)."""
        if self._queue is not None:
            await self._queue.join()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._queue = None


class _OnePiece:
    """A mirrored request's body, sent in one piece (a class rather than an async generator, which mypyc does not
    compile)."""

    __slots__ = ("_body",)

    def __init__(self, body: bytes) -> None:
        self._body: bytes | None = body

    def __aiter__(self) -> _OnePiece:
        return self

    async def __anext__(self) -> bytes:
        body = self._body
        if body is None:
            raise StopAsyncIteration
        self._body = None
        return body
