"""Who a write hold is agreed with: this process alone (`LocalHolds`, a SQLite route store serves one process), or
every live replica on the shared PostgreSQL store (`SharedHolds`). The admin endpoints (`cutover_endpoints.py`) speak
only to this interface, so the engine's calls are the same against one replica or many.

    hold = await coordinator.start("/api/catalog", lifetime=10, max_queue=1000, reason="", holder="h", lease=3,
                                   settle=0.5)   # one process: held from a moment with no write in flight
    await coordinator.renew([hold["id"]])           # the ids whose leases ran again
    async with coordinator.fenced(ids, paths):      # the holds cannot end meanwhile: change a data owner here
        ...
    await coordinator.release(hold["id"])           # {"hold": ..., "released": n, "waits": {...}} or None

`SharedHolds.start` returns only once every live replica acknowledged the hold (it holds the path and its writes in
flight there were answered); at `lifetime` it drops the hold and raises `WritesInFlight`, naming the replicas that
did not acknowledge. Its holds read as `Hold.as_dict` does, with this replica's own counts (`waiting`, ...). A
released hold's answer counts the requests this replica held; the others let theirs go on within one heartbeat.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from strangler_proxy.control.replica import ReplicaAgent
from strangler_proxy.control.shared_holds import COMMIT_BOUND, CommitInProgress, SharedHoldStore
from strangler_proxy.dataplane.write_hold import WriteHolds, wait_stats
from strangler_proxy.errors import HoldsNotInPlace, WritesInFlight

ACK_POLL = 0.02  # seconds between looks at a new hold's acknowledgements


class HoldCoordinator(Protocol):
    holds: WriteHolds  # this process's own holds (what it holds, its waits)

    async def start(
        self,
        path: str,
        *,
        lifetime: float,
        max_queue: int,
        reason: str,
        holder: str,
        lease: float | None,
        settle: float = 0.0,
    ) -> dict[str, Any]: ...

    async def renew(self, ids: Sequence[str]) -> list[str]: ...

    async def release(self, hold_id: str) -> dict[str, Any] | None: ...

    async def in_force(self, holder: str) -> list[dict[str, Any]]: ...

    async def replicas(self) -> list[dict[str, Any]]:
        """The replicas sharing the store, with their heartbeat's age (empty for one process alone)."""
        ...

    def fenced(self, ids: Sequence[str], paths: Sequence[str]) -> Any:
        """An async context manager: the holds cannot end while it is open; `HoldsNotInPlace` unless every id is a
        hold in force and together they cover every path."""
        ...


class LocalHolds:
    def __init__(self, holds: WriteHolds) -> None:
        self.holds = holds

    async def replicas(self) -> list[dict[str, Any]]:
        return []

    async def start(
        self,
        path: str,
        *,
        lifetime: float,
        max_queue: int,
        reason: str,
        holder: str,
        lease: float | None,
        settle: float = 0.0,
    ) -> dict[str, Any]:
        hold = await self.holds.start(
            path, lifetime=lifetime, max_queue=max_queue, reason=reason, holder=holder, lease=lease, settle=settle
        )
        return hold.as_dict()

    async def renew(self, ids: Sequence[str]) -> list[str]:
        return [i for i in ids if self.holds.renew(i) is not None]

    async def release(self, hold_id: str) -> dict[str, Any] | None:
        await self.holds.settled(hold_id)  # a commit under this hold finishes before its writes go on
        hold = self.holds.release(hold_id)
        if hold is None:
            return None
        return {"hold": hold.as_dict(), "released": hold.waiting, "waits": wait_stats(hold.waits)}

    async def in_force(self, holder: str) -> list[dict[str, Any]]:
        return [h.as_dict() for h in self.holds.holds(holder)]

    @asynccontextmanager
    async def fenced(self, ids: Sequence[str], paths: Sequence[str]) -> AsyncIterator[None]:
        with self.holds.fenced(ids, paths):
            yield


class SharedHolds:
    def __init__(self, store: SharedHoldStore, agent: ReplicaAgent) -> None:
        self.store = store
        self.agent = agent
        self.holds = agent.holds

    async def start(
        self,
        path: str,
        *,
        lifetime: float,
        max_queue: int,
        reason: str,
        holder: str,
        lease: float | None,
        settle: float = 0.0,
    ) -> dict[str, Any]:
        # `settle` is this process's notion (its own writes in flight): replicas agree on the hold at once.
        del settle
        hold_id = secrets.token_hex(8)
        await asyncio.to_thread(
            self.store.create,
            hold_id,
            path,
            timeout=lifetime,
            max_queue=max_queue,
            reason=reason,
            holder=holder,
            lease=lease,
        )
        self.agent.wake()
        deadline = time.monotonic() + lifetime
        while True:
            outcome, missing = await asyncio.to_thread(self.store.missing_acks, hold_id)
            if outcome is not None:
                raise WritesInFlight(f"the hold of {path} ended ({outcome}) before every replica acknowledged it")
            if not missing:
                break
            if time.monotonic() >= deadline:
                await self._drop(hold_id)
                raise WritesInFlight(
                    f"proxy replica(s) {', '.join(missing)} did not acknowledge the hold of {path} within "
                    f"{lifetime:g}s (writes forwarded before it still unanswered there); the hold was dropped"
                )
            await asyncio.sleep(ACK_POLL)
        await asyncio.to_thread(self.store.in_place, hold_id, lease)
        held = [h for h in await asyncio.to_thread(self.store.in_force, holder) if h.id == hold_id]
        if not held:
            raise WritesInFlight(f"the hold of {path} ended before it was in place")
        return {**self._with_local(held[0].as_dict()), "replicas": len(await asyncio.to_thread(self._live))}

    def _with_local(self, stored: dict[str, Any]) -> dict[str, Any]:
        """A stored hold with this replica's own counts of it (the shape `Hold.as_dict` has)."""
        local = self.holds.get(str(stored["id"]))
        counts = {"waiting": 0, "held_total": 0, "refused_total": 0}
        if local is not None:
            counts = {"waiting": local.waiting, "held_total": local.held_total, "refused_total": local.refused_total}
        return {**stored, **counts}

    async def replicas(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.store.replicas)

    def _live(self) -> list[str]:
        return [r["replica"] for r in self.store.replicas() if r["live"]]

    async def _drop(self, hold_id: str) -> None:
        await asyncio.to_thread(self.store.end, hold_id, "dropped")
        self.agent.wake()

    async def renew(self, ids: Sequence[str]) -> list[str]:
        return await asyncio.to_thread(self.store.renew, list(ids))

    async def release(self, hold_id: str) -> dict[str, Any] | None:
        deadline = time.monotonic() + COMMIT_BOUND
        while True:
            try:
                stored = await asyncio.to_thread(self.store.end, hold_id)
                break
            except CommitInProgress:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(ACK_POLL)
        if stored is None:
            return None
        # This replica lets its held writes go at once (the owner was read when it was committed here); the others
        # do in their next round, after reading the owner again.
        await self.agent.reload_owners()  # the owner may have been committed through another replica
        self.agent.mirrored.discard(hold_id)
        counted = self._with_local(stored.as_dict())
        local = self.holds.release(hold_id)
        return {
            "hold": {**counted, "outcome": "released"},
            "released": 0 if local is None else local.waiting,
            "waits": wait_stats([] if local is None else local.waits),
        }

    async def in_force(self, holder: str) -> list[dict[str, Any]]:
        return [self._with_local(h.as_dict()) for h in await asyncio.to_thread(self.store.in_force, holder)]

    @asynccontextmanager
    async def fenced(self, ids: Sequence[str], paths: Sequence[str]) -> AsyncIterator[None]:
        wanted = list(ids)
        marked = await asyncio.to_thread(self.store.begin_commit, wanted) if wanted else []
        try:
            gone = [i for i in wanted if i not in {h.id for h in marked}]
            uncovered = [p for p in paths if not any(h.covers(p) for h in marked)]
            if not wanted or gone or uncovered:
                raise HoldsNotInPlace(
                    ("no hold was given" if not wanted else "")
                    + (f"hold(s) {', '.join(gone)} ended already" if gone else "")
                    + ("; " if gone and uncovered else "")
                    + (f"{', '.join(uncovered)} not held" if uncovered else "")
                )
            yield
        finally:
            if marked:
                await asyncio.to_thread(self.store.end_commit, [h.id for h in marked])
