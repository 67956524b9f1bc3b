"""Write hold: while a cutover flips a route's system of record, its unsafe requests wait at the proxy.

    public_app = WriteHoldMiddleware(proxy_app)        # in front of the ProxyApp; `public_app.holds` is the API:
    hold = await holds.start("/api/catalog", lifetime=10.0, max_queue=1000)   # returns once no write is in flight
    holds.release(hold.id)              # the waiting requests go on, routed by the table *then* current

Safe requests (GET, HEAD, OPTIONS) are never held. A held request reaches the ProxyApp only after the release, so
it is routed only then: it goes to the new owner when the cutover installed the new table before releasing.

A hold covers the writes already on their way too: `start` returns only once every unsafe request on the path that
was forwarded before the hold has been answered (or raises `WritesInFlight` at the timeout, having dropped the
hold), because a write still in flight to the old owner could commit after the cutover drained its sync.

Bounded both ways, so a crashed cutover never wedges writes: a hold expires on its own after `timeout` seconds (its
waiting requests get 503 with `Retry-After`: nothing was written anywhere, the client may retry), and beyond
`max_queue` waiting requests a new one gets 503 at once. Holds are per proxy process (per replica): a cutover
against several replicas holds on each one's admin API.

Every held request's wait is kept (`stats()`), so the hold's cost is measured by the proxy itself, not by a test.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import statistics
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from strangler_proxy.dataplane.error_response import send_error_response
from strangler_proxy.dataplane.forwarding import request_id_or_new
from strangler_proxy.dataplane.model import SAFE_METHODS
from strangler_proxy.dataplane.routing import canonicalise
from strangler_proxy.errors import BadRequestPath, WriteHeld, WritesInFlight
from strangler_proxy.http.asgi import ASGIApp, Receive, Scope, Send

log = logging.getLogger("strangler_proxy.cutover")

DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 120.0
DEFAULT_MAX_QUEUE = 1000
MAX_QUEUE = 100_000
WAITS_KEPT = 10_000


@dataclass
class Hold:
    id: str
    path: str
    timeout: float
    max_queue: int
    reason: str
    started: float = field(default_factory=time.monotonic)
    waiting: int = 0
    arrivals: list[float] = field(default_factory=list)  # when each waiting request arrived
    waits: list[float] = field(default_factory=list)  # how long each held request waited, once the hold ended
    held_total: int = 0
    refused_total: int = 0
    outcome: str | None = None  # "released" (go on) or "expired" (refuse)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def deadline(self) -> float:
        return self.started + self.timeout

    def covers(self, path: str) -> bool:
        """Segment-prefix match, like routing: /api/catalog covers /api/catalog/products/, never /api/catalogue."""
        return self.path == "/" or path == self.path or path.startswith(self.path + "/")

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "reason": self.reason,
            "timeout": self.timeout,
            "max_queue": self.max_queue,
            "age_s": round(time.monotonic() - self.started, 3),
            "waiting": self.waiting,
            "held_total": self.held_total,
            "refused_total": self.refused_total,
        }


class WriteHolds:
    """The holds of one proxy process. Use it on the event loop's thread only."""

    def __init__(self) -> None:
        self._holds: dict[str, Hold] = {}
        self._waits: deque[float] = deque(maxlen=WAITS_KEPT)
        self._inflight: dict[int, str] = {}  # unsafe requests forwarded and not yet answered: token → path
        self._next_token = 0
        self._left = asyncio.Event()
        self.active = False  # the hot path's one check while no cutover runs

    async def start(self, path: str, *, lifetime: float, max_queue: int, reason: str = "") -> Hold:
        """Hold `path`'s unsafe requests from now on, for `lifetime` seconds at most; return once none forwarded
        earlier is still in flight."""
        hold = Hold(id=secrets.token_hex(8), path=path, timeout=lifetime, max_queue=max_queue, reason=reason)
        self._holds[hold.id] = hold
        self.active = True
        asyncio.get_running_loop().call_later(lifetime, self._expire, hold.id)
        while (busy := sum(1 for p in self._inflight.values() if hold.covers(p))) and hold.outcome is None:
            self._left.clear()
            try:
                await asyncio.wait_for(self._left.wait(), max(0.0, hold.deadline - time.monotonic()))
            except TimeoutError:
                break
        if busy:
            self.release(hold.id)
            raise WritesInFlight(
                f"{busy} write(s) to {path} forwarded before the hold were still unanswered after {lifetime:g}s; "
                f"the hold was dropped"
            )
        return hold

    def enter(self, path: str) -> int:
        self._next_token += 1
        self._inflight[self._next_token] = path
        return self._next_token

    def leave(self, token: int) -> None:
        del self._inflight[token]
        self._left.set()

    def get(self, hold_id: str) -> Hold | None:
        return self._holds.get(hold_id)

    def holds(self) -> list[Hold]:
        return list(self._holds.values())

    def release(self, hold_id: str) -> Hold | None:
        """Let the hold's waiting requests go on; None if there is no such hold (released or expired already)."""
        hold = self._holds.pop(hold_id, None)
        if hold is not None:
            hold.outcome = "released"
            self._end(hold)
        return hold

    def _expire(self, hold_id: str) -> None:
        hold = self._holds.pop(hold_id, None)
        if hold is not None:
            log.warning(
                "hold %s of %s expired after %gs: %d waiting write(s) refused with 503, nothing written",
                hold.id,
                hold.path,
                hold.timeout,
                hold.waiting,
            )
            hold.outcome = "expired"
            self._end(hold)

    def _end(self, hold: Hold) -> None:
        # Waits are taken here, not when the waiters wake, so the release's answer already counts them.
        now = time.monotonic()
        hold.waits = [now - arrived for arrived in hold.arrivals]
        self._waits.extend(hold.waits)
        hold.arrivals.clear()
        self.active = bool(self._holds)
        hold.done.set()

    async def wait(self, method: str, path: str) -> WriteHeld | None:
        """Block an unsafe request on `path` while a hold covers it. None: go on (route it now); else refuse."""
        if method in SAFE_METHODS:
            return None
        hold = next((h for h in self._holds.values() if h.covers(path)), None)
        if hold is None:
            return None
        if hold.waiting >= hold.max_queue:
            hold.refused_total += 1
            return WriteHeld(
                f"writes to {hold.path} are held for a cutover and {hold.max_queue} are already waiting; retry shortly",
                route=hold.path,
            )
        hold.waiting += 1
        hold.held_total += 1
        hold.arrivals.append(time.monotonic())
        try:
            await hold.done.wait()  # `_expire` sets it at the deadline at the latest
        finally:
            hold.waiting -= 1
        if hold.outcome != "released":
            hold.refused_total += 1
            return WriteHeld(
                f"writes to {hold.path} were held for a cutover that did not finish within {hold.timeout:g}s; "
                f"nothing was written, retry",
                route=hold.path,
            )
        return None

    def stats(self) -> dict[str, Any]:
        """Waits of the last held requests of this process (released or refused), in milliseconds."""
        return wait_stats(self._waits)


def wait_stats(measured: Iterable[float]) -> dict[str, Any]:
    """Count, p50, p99 and max of waits in seconds, as milliseconds."""
    waits = sorted(measured)
    if not waits:
        return {"held": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    p99 = waits[-1] if len(waits) < 2 else statistics.quantiles(waits, n=100, method="inclusive")[98]
    return {
        "held": len(waits),
        "p50_ms": round(statistics.median(waits) * 1000, 3),
        "p99_ms": round(p99 * 1000, 3),
        "max_ms": round(waits[-1] * 1000, 3),
    }


class WriteHoldMiddleware:
    """Pure ASGI, in front of the ProxyApp: holds unsafe requests on held paths and counts those in flight."""

    def __init__(self, app: ASGIApp, holds: WriteHolds | None = None) -> None:
        self.app = app
        self.holds = holds or WriteHolds()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)  # the wrapped ProxyApp's surface (table, set_table, metrics_text, ...)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        try:
            path = canonicalise(scope["raw_path"] or scope["path"].encode())
        except BadRequestPath:
            await self.app(scope, receive, send)  # the app answers 400 for it
            return
        holds = self.holds
        if holds.active:
            refused = await holds.wait(scope["method"], path)
            if refused is not None:
                retry_after = [(b"retry-after", str(refused.retry_after).encode())]
                await send_error_response(send, refused, request_id_of(scope), retry_after)
                return
        token = holds.enter(path)
        try:
            await self.app(scope, receive, send)
        finally:
            holds.leave(token)


def request_id_of(scope: Scope) -> str:
    client = next((value for name, value in scope["headers"] if name == b"x-request-id"), None)
    return request_id_or_new(client).decode("ascii")
