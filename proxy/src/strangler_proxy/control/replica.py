"""One replica among several on a shared PostgreSQL store: its heartbeat, the holds it mirrors, its fence.

    agent = ReplicaAgent(store, holds, fence, replica="web-1:4242", heartbeat=0.1, reload_owners=reload)
    task = asyncio.create_task(agent.run())     # on the event loop, for as long as the proxy serves

Every `heartbeat` seconds, and at once when a hold starts or ends anywhere (NOTIFY, heard by a thread), a round
with the store (`SharedHoldStore.round`): the replica says it is alive, and learns the holds in force. A hold it
does not hold yet is started locally (`WriteHolds.start` with the store's id) and acknowledged in the next round
once its writes in flight on the path are answered; a hold the store ended is ended locally, after the data owners
are read again (the owner may have changed under that hold: its held writes must go to the new one). After each
round that reached the store the fence opens again (`StoreFence.seen`); when rounds fail, it closes by itself
`fence_after` seconds after the last good one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from strangler_proxy.control.shared_holds import HOUSEKEEP_EVERY, SharedHoldStore, StoredHold
from strangler_proxy.dataplane.store_fence import StoreFence
from strangler_proxy.dataplane.write_hold import WriteHolds
from strangler_proxy.errors import StoreUnavailable, WritesInFlight

log = logging.getLogger("strangler_proxy.replica")


@dataclass(frozen=True, slots=True)
class ReplicaSettings:
    """A replica's name and timeouts on a shared store. `fence_after` < `dead_after` (checked at start): a replica
    whose heartbeat the others stopped waiting for has fenced itself already, with `dead_after - fence_after` to
    spare for a write it forwarded just before."""

    replica: str = ""  # default: host:pid
    heartbeat: float = 0.1  # seconds between rounds with the store
    fence_after: float = 1.0  # seconds without a good round before this replica refuses data writes
    dead_after: float = 3.0  # seconds without a heartbeat before the others stop waiting for a replica

    def name(self) -> str:
        return self.replica or f"{socket.gethostname()}:{os.getpid()}"


class ReplicaAgent:
    def __init__(
        self,
        store: SharedHoldStore,
        holds: WriteHolds,
        fence: StoreFence,
        *,
        replica: str,
        heartbeat: float,
        reload_owners: Callable[[], Awaitable[None]],
    ) -> None:
        self.store = store
        self.holds = holds
        self.fence = fence
        self.replica = replica
        self.heartbeat = heartbeat
        self.reload_owners = reload_owners
        self.mirrored: set[str] = set()  # store holds this replica holds locally
        self._acks: set[str] = set()  # holds in place here and drained, not yet recorded in the store
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._failing = False
        self._stopped = threading.Event()
        self._host, self._pid = socket.gethostname(), os.getpid()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        listener = threading.Thread(
            target=self._listen, args=(asyncio.get_running_loop(),), name=f"holds news {self.replica}", daemon=True
        )
        listener.start()
        next_housekeeping = time.monotonic()
        while True:
            started = time.monotonic()
            acks = sorted(self._acks)
            try:
                found = await asyncio.to_thread(self.store.round, self.replica, self._host, self._pid, acks)
                regained = self.fence.closed
                await self._apply(found.holds, regained=regained)
                self._acks.difference_update(acks)
                self.fence.seen(started)
                if self._failing or regained:
                    log.warning("replica %s sees the shared store: writes on data routes pass again", self.replica)
                self._failing = False
                if started >= next_housekeeping:
                    next_housekeeping = started + HOUSEKEEP_EVERY
                    await asyncio.to_thread(self.store.housekeep)
            except StoreUnavailable as exc:
                if not self._failing:
                    log.error(
                        "replica %s cannot reach the shared store (%s): writes on data routes are refused from %.1fs "
                        "after the last good round until it answers again",
                        self.replica,
                        str(exc).splitlines()[0],
                        self.fence.after,
                    )
                self._failing = True
            except Exception:  # a bug must not end the loop: the fence would stay closed, writes refused for good
                log.exception("replica %s: a round with the shared store failed", self.replica)
                self._failing = True
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.heartbeat)

    def _listen(self, loop: asyncio.AbstractEventLoop) -> None:
        """A thread: a hold's start or end (NOTIFY) wakes the loop for a round now rather than at the next beat."""
        while not self._stopped.is_set():
            try:
                if self.store.wait_for_news(1.0):
                    loop.call_soon_threadsafe(self.wake)
            except StoreUnavailable:
                self._stopped.wait(1.0)  # the rounds say so and fence; the heartbeat still brings the news
            except RuntimeError:
                return  # the loop closed: the proxy is stopping

    async def _apply(self, in_force: list[StoredHold], *, regained: bool) -> None:
        current = {h.id: h for h in in_force}
        ended = [i for i in self.mirrored if i not in current]
        if ended or regained:
            await self.reload_owners()  # before any held write goes on: the owner may have changed under the hold
        for hold_id in ended:
            self.mirrored.discard(hold_id)
            self.holds.release(hold_id)
        for hold in in_force:
            if hold.id not in self.mirrored:
                self.mirrored.add(hold.id)
                task = asyncio.get_running_loop().create_task(self._mirror(hold))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        await asyncio.sleep(0)  # let each new mirror put its hold in place before the fence opens

    async def _mirror(self, hold: StoredHold) -> None:
        try:
            # The store ends the hold; the local lifetime is only a backstop past the store's own deadline.
            await self.holds.start(
                hold.path,
                lifetime=hold.timeout + 60.0,
                max_queue=hold.max_queue,
                reason=hold.reason,
                holder=hold.holder,
                hold_id=hold.id,
            )
        except WritesInFlight as exc:
            log.warning("replica %s could not acknowledge hold %s: %s", self.replica, hold.id, exc)
            return
        if hold.id in self.mirrored:
            self._acks.add(hold.id)
            self.wake()

    async def close(self) -> None:
        self._stopped.set()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(StoreUnavailable):
            await asyncio.to_thread(self.store.forget, self.replica)
