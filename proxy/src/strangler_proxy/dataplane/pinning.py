"""Read-your-writes pins: after a client's unsafe request went to one side (the monolith, or the service when it
owns the data), its safe requests on that service's canary routes go to the same side for `Route.pin_seconds`, so
it reads its own write before the sync has carried it to the other side. Live routes honour only a pin made by a
write on a live route (one that went to the monolith because it owns the data again: a rollback between its
commit and its route change); a write made before a route went live was carried to the service by the cutover.
A write to the service on a live route pins nothing: the route's reads go there anyway.

Pins live in memory (`PinStore`, bounded, oldest evicted) and, when replicas share a PostgreSQL store, in the store
too (`SharedPins`, `control/shared_pins.py`): a write's pin is stored before its answer goes back to the client, and a
canary read that the client's bucket would send to the service asks the store first (one lookup, only for the
canary's share of reads), so a client that wrote through one replica reads its write through any other. A lookup
that fails sends the read to the monolith, which owns the data during canary. Pins on live routes (the rollback
corner above) stay per replica.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol


class SharedPins(Protocol):
    """Pins every replica sees (`control/shared_pins.py`)."""

    async def pin(self, service: str, key: str, seconds: float, to: str, *, live: bool) -> None:
        """Store the pin; a failure is logged, not raised (the write it follows has happened)."""
        ...

    async def pinned(self, service: str, key: str, *, unknown: str) -> str | None:
        """The upstream the client is pinned to for `service`'s canary reads; `unknown` when the store cannot say."""
        ...


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
