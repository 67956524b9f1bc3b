"""Read-your-writes pins: after a client's unsafe request went to one side (the monolith, or the service when it
owns the data), its safe requests on that service's canary routes go to the same side for `Route.pin_seconds`, so
it reads its own write before the sync has carried it to the other side. Live routes honour only a pin made by a
write on a live route (one that went to the monolith because it owns the data again: a rollback between its
commit and its route change); a write made before a route went live was carried to the service by the cutover.
A write to the service on a live route pins nothing: the route's reads go there anyway.

Pins live in memory, per proxy replica (bounded, oldest evicted). With several replicas a client is pinned only
on the replica that saw its write; put replicas behind a balancer with client affinity, or accept that a client
hopping replicas within the window may briefly read from the service (which lags the monolith by at most the sync
lag, DESIGN: ≤ 1 s).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class PinStore:
    def __init__(self, max_clients: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._max = max_clients
        self._clock = clock
        self._until: OrderedDict[tuple[str, str], tuple[float, str, bool]] = OrderedDict()

    def pin(self, service: str, key: str, seconds: float, to: str, *, live: bool = False) -> None:
        """Pin the client `key` of `service`'s routes to upstream `to` for `seconds`; `live`: the write was on a
        live route, so live routes' reads follow it too."""
        if seconds <= 0:
            return
        slot = (service, key)
        self._until.pop(slot, None)
        self._until[slot] = (self._clock() + seconds, to, live)
        while len(self._until) > self._max:
            self._until.popitem(last=False)

    def pinned(self, service: str, key: str, *, live: bool = False) -> str | None:
        """The upstream the client is pinned to (for a live route's read: only by a write on a live route)."""
        if not self._until:
            return None
        slot = (service, key)
        found = self._until.get(slot)
        if found is None:
            return None
        until, to, on_live = found
        if self._clock() >= until:
            del self._until[slot]
            return None
        return to if on_live or not live else None

    def __len__(self) -> int:
        return len(self._until)
