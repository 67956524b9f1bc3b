"""Write hold: while a cutover moves a route's data to its new owner, the route's unsafe requests wait at the proxy.

    public_app = WriteHoldMiddleware(proxy_app)        # in front of the ProxyApp; `public_app.holds` is the API:
    hold = await holds.start("/api/catalog", lifetime=10.0, max_queue=1000,      # returns once no write is in flight
                             holder="catalog/cutover/3f2a", lease=3.0, settle=0.5)  # held from a quiet moment
    holds.renew(hold.id)                # the holder, every second or so: the lease runs `lease` seconds from now
    with holds.fenced([hold.id], ["/api/catalog"]):   # the hold cannot end meanwhile: commit the new owner here
        ...
    holds.release(hold.id)              # the waiting requests go on, routed by the table and owners *then* current

Safe requests (GET, HEAD, OPTIONS) are never held. A held request reaches the ProxyApp only after its hold ended,
so it is routed only then: to the data's owner at that moment (`data_owners.py`).

A hold covers the writes already on their way too: `start` returns only once every unsafe request on the path that
was forwarded before the hold has been answered (or raises `WritesInFlight` at the timeout, having dropped the
hold), because a write still in flight to the old owner could commit after the cutover drained its sync. With
`settle`, the hold starts at the first moment (within `settle` seconds) when no write on the path is in flight, so
the writes it holds do not also wait for those: until then writes flow as usual.

A hold is a lease. It ends in one of three ways, and whichever it is, its waiting requests go on (unless another
hold covers their path: then they wait for that one): `released` by its holder; `lapsed` when a holder that gave a
`lease` stopped renewing it (the holder died); `expired` at `timeout`, the bound on any write's wait. Letting them
go on is safe because the proxy routes a data route's writes to the owner it believes, and the engine keeps change
capture on that owner until the proxy is known to send writes elsewhere; the owner changes only under a live hold
(`fenced`), so a commit and a hold's end never interleave. Beyond `max_queue` waiting requests a new one gets 503
with `Retry-After` at once (nothing is written).

These are one process's holds. When replicas share a PostgreSQL store, each replica's holds mirror the store's
(`control/replica.py` starts them with the store's id and ends them when the store does: a hold is agreed by every
live replica, docs/replicas.md), and the middleware also refuses a write on a data route while the replica's
`StoreFence` is closed (it has not seen the store lately, so it cannot know of a hold).

Every held request's wait is kept (`stats()`), so the hold's cost is measured by the proxy itself, not by a test.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import statistics
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from strangler_proxy.dataplane.error_response import send_error_response
from strangler_proxy.dataplane.forwarding import request_id_or_new
from strangler_proxy.dataplane.model import SAFE_METHODS
from strangler_proxy.dataplane.routing import canonicalise
from strangler_proxy.dataplane.store_fence import StoreFence
from strangler_proxy.errors import BadRequestPath, HoldsNotInPlace, StoreFenced, WriteHeld, WritesInFlight
from strangler_proxy.http.asgi import ASGIApp, Receive, Scope, Send

log = logging.getLogger("strangler_proxy.cutover")

DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 120.0
DEFAULT_MAX_QUEUE = 1000
MAX_QUEUE = 100_000
WAITS_KEPT = 10_000


FENCE_RECHECK = 0.05  # seconds between looks at a hold whose end waits for a fence to drop


@dataclass
class Hold:
    id: str
    path: str
    timeout: float
    max_queue: int
    reason: str
    holder: str = ""  # who holds it (e.g. "catalog/cutover/<run>"): the next run finds a dead run's hold by it
    lease: float | None = None  # seconds a renewal keeps it alive; None: only `timeout` ends it
    started: float = field(default_factory=time.monotonic)
    lease_until: float = math.inf  # set once `start` returns; `renew` moves it
    waiting: int = 0
    arrivals: list[float] = field(default_factory=list)  # when each waiting request arrived
    waits: list[float] = field(default_factory=list)  # how long each held request waited, once the hold ended
    held_total: int = 0
    refused_total: int = 0
    fences: int = 0  # commits in progress under this hold: it cannot end meanwhile
    outcome: str | None = None  # "released", "lapsed" (no renewal) or "expired" (timeout): its writes go on
    done: asyncio.Event = field(default_factory=asyncio.Event)
    unfenced: asyncio.Event = field(default_factory=asyncio.Event)
    timer: asyncio.TimerHandle | None = None  # the next look at whether it should end

    @property
    def deadline(self) -> float:
        return self.started + self.timeout

    @property
    def ends_at(self) -> float:
        return min(self.deadline, self.lease_until)

    def covers(self, path: str) -> bool:
        """Segment-prefix match, like routing: /api/catalog covers /api/catalog/products/, never /api/catalogue."""
        return self.path == "/" or path == self.path or path.startswith(self.path + "/")

    def as_dict(self) -> dict[str, Any]:
        now = time.monotonic()
        return {
            "id": self.id,
            "path": self.path,
            "reason": self.reason,
            "holder": self.holder,
            "timeout": self.timeout,
            "lease": self.lease,
            "lease_left_s": None if self.lease_until == math.inf else round(max(0.0, self.lease_until - now), 3),
            "max_queue": self.max_queue,
            "age_s": round(now - self.started, 3),
            "waiting": self.waiting,
            "held_total": self.held_total,
            "refused_total": self.refused_total,
            "outcome": self.outcome,
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

    async def start(
        self,
        path: str,
        *,
        lifetime: float,
        max_queue: int,
        reason: str = "",
        holder: str = "",
        lease: float | None = None,
        hold_id: str | None = None,
        settle: float = 0.0,
    ) -> Hold:
        """Hold `path`'s unsafe requests from now on, for `lifetime` seconds at most (and, with a `lease`, for as
        long as the holder renews it); return once none forwarded earlier is still in flight. `hold_id`: the id of
        the shared store's hold this one mirrors (default: a new one). `settle`: first wait up to that many seconds,
        writes still flowing unheld, for a moment when none is in flight on `path`, and hold from that moment (then
        there is nothing to wait for); if none comes, hold anyway and wait for those in flight, as without it."""
        hold = Hold(
            id=hold_id or secrets.token_hex(8),
            path=path,
            timeout=lifetime,
            max_queue=max_queue,
            reason=reason,
            holder=holder,
            lease=lease,
        )
        if settle > 0:
            await self._quiet(hold, settle)
            hold.started = time.monotonic()  # no await from the quiet moment to here: no write slips in between
        self._holds[hold.id] = hold
        self.active = True
        self._arm(hold)
        while (busy := sum(1 for p in self._inflight.values() if hold.covers(p))) and hold.outcome is None:
            self._left.clear()
            try:
                await asyncio.wait_for(self._left.wait(), max(0.0, hold.deadline - time.monotonic()))
            except TimeoutError:
                break
        if busy and hold.outcome is None:
            self._end(hold, "released")
        if busy:
            raise WritesInFlight(
                f"{busy} write(s) to {path} forwarded before the hold were still unanswered after {lifetime:g}s; "
                f"the hold was dropped"
            )
        if hold.outcome is not None:
            raise WritesInFlight(f"the hold of {path} reached its timeout ({lifetime:g}s) before it was in place")
        if lease is not None:  # the lease runs from the answer: waiting for writes in flight is not the holder's time
            hold.lease_until = time.monotonic() + lease
            self._arm(hold)
        return hold

    async def _quiet(self, hold: Hold, settle: float) -> None:
        """Return once no unsafe request `hold` covers is in flight, or after `settle` seconds."""
        until = time.monotonic() + settle
        while any(hold.covers(p) for p in self._inflight.values()):
            left = until - time.monotonic()
            if left <= 0:
                return
            self._left.clear()
            try:
                await asyncio.wait_for(self._left.wait(), left)
            except TimeoutError:
                return

    def enter(self, path: str) -> int:
        self._next_token += 1
        self._inflight[self._next_token] = path
        return self._next_token

    def leave(self, token: int) -> None:
        del self._inflight[token]
        self._left.set()

    def get(self, hold_id: str) -> Hold | None:
        return self._holds.get(hold_id)

    def holds(self, holder: str = "") -> list[Hold]:
        """The active holds whose holder starts with `holder` (every one by default)."""
        return [h for h in self._holds.values() if h.holder.startswith(holder)]

    def renew(self, hold_id: str) -> Hold | None:
        """The holder is alive: its lease runs `lease` seconds from now. None if the hold has ended."""
        hold = self._holds.get(hold_id)
        if hold is not None and hold.lease is not None:
            hold.lease_until = time.monotonic() + hold.lease
        return hold

    def release(self, hold_id: str, outcome: str = "released") -> Hold | None:
        """Let the hold's waiting requests go on; None if there is no such hold (it ended already). `outcome`: how
        it ended, when the shared store ended it (`lapsed`, `expired`)."""
        hold = self._holds.get(hold_id)
        if hold is not None:
            self._end(hold, outcome)
        return hold

    async def settled(self, hold_id: str) -> None:
        """Return once no commit is in progress under the hold (see `fenced`)."""
        hold = self._holds.get(hold_id)
        while hold is not None and hold.fences:
            hold.unfenced.clear()
            await hold.unfenced.wait()

    @contextmanager
    def fenced(self, hold_ids: Iterable[str], paths: Iterable[str]) -> Iterator[list[Hold]]:
        """While the block runs, none of the holds can end (a lapse or timeout waits for it): the control plane
        changes a data owner only in such a block. Raises `HoldsNotInPlace` unless every id is an active hold and
        together they cover every path."""
        ids = list(hold_ids)
        holds = [self._holds[i] for i in ids if i in self._holds]
        gone = [i for i in ids if i not in self._holds]
        uncovered = [p for p in paths if not any(h.covers(p) for h in holds)]
        if not ids or gone or uncovered:
            raise HoldsNotInPlace(
                ("no hold was given" if not ids else "")
                + (f"hold(s) {', '.join(gone)} ended already" if gone else "")
                + ("; " if gone and uncovered else "")
                + (f"{', '.join(uncovered)} not held" if uncovered else "")
            )
        for hold in holds:
            hold.fences += 1
        try:
            yield holds
        finally:
            for hold in holds:
                hold.fences -= 1
                if not hold.fences:
                    hold.unfenced.set()

    def _arm(self, hold: Hold, delay: float | None = None) -> None:
        if hold.timer is not None:
            hold.timer.cancel()
        delay = max(0.0, hold.ends_at - time.monotonic()) if delay is None else delay
        hold.timer = asyncio.get_running_loop().call_later(delay, self._check, hold)

    def _check(self, hold: Hold) -> None:
        """A hold's timer: end it if its lease lapsed or its timeout came (not during a commit), else look again."""
        if self._holds.get(hold.id) is not hold:
            return  # released meanwhile
        now = time.monotonic()
        if hold.fences:
            self._arm(hold, FENCE_RECHECK)
        elif now >= hold.ends_at:
            outcome = "expired" if now >= hold.deadline else "lapsed"
            log.warning(
                "hold %s of %s (holder %r) %s: %s; its %d waiting write(s) go on to the data's owner",
                hold.id,
                hold.path,
                hold.holder,
                outcome,
                f"timeout {hold.timeout:g}s" if outcome == "expired" else f"no renewal within {hold.lease:g}s",
                hold.waiting,
            )
            self._end(hold, outcome)
        else:
            self._arm(hold)

    def _end(self, hold: Hold, outcome: str) -> None:
        # Waits are taken here, not when the waiters wake, so the release's answer already counts them.
        del self._holds[hold.id]
        if hold.timer is not None:
            hold.timer.cancel()
        hold.outcome = outcome
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
        while (hold := next((h for h in self._holds.values() if h.covers(path)), None)) is not None:
            if hold.waiting >= hold.max_queue:
                hold.refused_total += 1
                return WriteHeld(
                    f"writes to {hold.path} are held for a cutover and {hold.max_queue} are already waiting; "
                    f"retry shortly",
                    route=hold.path,
                )
            hold.waiting += 1
            hold.held_total += 1
            hold.arrivals.append(time.monotonic())
            try:
                await hold.done.wait()  # `_check` sets it when the lease lapses or the timeout comes, at the latest
            finally:
                hold.waiting -= 1
        return None

    def stats(self) -> dict[str, Any]:
        """Waits of the last held requests of this process, in milliseconds."""
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

    def __init__(self, app: ASGIApp, holds: WriteHolds | None = None, fence: StoreFence | None = None) -> None:
        self.app = app
        self.holds = holds or WriteHolds()
        self.fence = fence  # set when replicas share a store: refuse data writes while it cannot be seen

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
        # After any wait, and with no await before `enter`: a write passes only if this replica saw the store lately.
        if self.fence is not None and self.fence.refuses(path):
            fenced = StoreFenced(
                f"this proxy replica has not reached the shared route store for {self.fence.age():.1f}s, so it cannot "
                f"know whether writes to {path} are held; retry shortly (another replica may take it)"
            )
            await send_error_response(send, fenced, request_id_of(scope), [(b"retry-after", b"1")])
            return
        token = holds.enter(path)
        try:
            await self.app(scope, receive, send)
        finally:
            holds.leave(token)


def request_id_of(scope: Scope) -> str:
    client = next((value for name, value in scope["headers"] if name == b"x-request-id"), None)
    return request_id_or_new(client).decode("ascii")
