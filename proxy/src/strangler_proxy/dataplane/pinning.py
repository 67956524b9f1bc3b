"""Read-your-writes pins: after a client's unsafe request went to the monolith on an off, shadow or canary route,
its safe requests on that service's canary routes go to the monolith for `Route.pin_seconds`, so it reads its own
write before the sync has carried it to the service.

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
        self._until: OrderedDict[tuple[str, str], float] = OrderedDict()

    def pin(self, service: str, key: str, seconds: float) -> None:
        if seconds <= 0:
            return
        slot = (service, key)
        self._until.pop(slot, None)
        self._until[slot] = self._clock() + seconds
        while len(self._until) > self._max:
            self._until.popitem(last=False)

    def pinned(self, service: str, key: str) -> bool:
        if not self._until:
            return False
        slot = (service, key)
        until = self._until.get(slot)
        if until is None:
            return False
        if self._clock() >= until:
            del self._until[slot]
            return False
        return True

    def __len__(self) -> int:
        return len(self._until)
