"""Read-your-writes pins: after a client's unsafe request went to one side (the monolith, or the service when it
owns the data), its safe requests on that service's canary and live routes go to the same side for
`Route.pin_seconds`, so it reads its own write before the sync has carried it to the other side. A write to the
service on a live route pins nothing: the route's reads go there anyway.

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
        self._until: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()

    def pin(self, service: str, key: str, seconds: float, to: str) -> None:
        """Pin the client `key` of `service`'s routes to upstream `to` for `seconds`."""
        if seconds <= 0:
            return
        slot = (service, key)
        self._until.pop(slot, None)
        self._until[slot] = (self._clock() + seconds, to)
        while len(self._until) > self._max:
            self._until.popitem(last=False)

    def pinned(self, service: str, key: str) -> str | None:
        """The upstream the client is pinned to, or None."""
        if not self._until:
            return None
        slot = (service, key)
        found = self._until.get(slot)
        if found is None:
            return None
        if self._clock() >= found[0]:
            del self._until[slot]
            return None
        return found[1]

    def __len__(self) -> int:
        return len(self._until)
