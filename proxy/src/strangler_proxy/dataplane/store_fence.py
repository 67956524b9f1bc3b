"""A replica's fence: a replica that has not seen the shared store lately cannot know of a write hold, so it refuses
writes on data routes (503 with `Retry-After`, nothing forwarded) until it sees the store again.

    fence = StoreFence(after=1.0, guarded=lambda: ["/api/catalog"])   # the paths of data routes and holds
    fence.seen(started)            # the control plane, after each round with the store that began at `started`
    fence.refuses("/api/catalog/products/")                             # the data plane, per unsafe request

The fence is a clock, not a flag: it closes `after` seconds past the start of the last round that reached the
store, whether or not anything noticed, so a replica whose loop stalled or whose process was stopped is fenced
the moment it runs again. A replica starts fenced: until its first round it has seen no hold. The shared store
waits for no replica whose heartbeat is older than its `dead_after`, which the settings keep above `after`: by the
time the others stop waiting for a replica, it has fenced itself.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable


class StoreFence:
    def __init__(self, after: float, guarded: Callable[[], Iterable[str]]) -> None:
        self.after = after
        self._guarded = guarded
        self._seen = -math.inf

    def seen(self, started: float) -> None:
        """A round with the store that began at `started` (time.monotonic) succeeded."""
        self._seen = max(self._seen, started)

    @property
    def closed(self) -> bool:
        return time.monotonic() - self._seen > self.after

    def age(self) -> float:
        return time.monotonic() - self._seen

    def refuses(self, path: str) -> bool:
        """Whether an unsafe request on `path` must be refused now: the fence is closed and a data route or a
        hold covers the path (segment prefix). Cheap while open: one clock read."""
        if not self.closed:
            return False
        return any(p == "/" or path == p or path.startswith(p + "/") for p in self._guarded())
