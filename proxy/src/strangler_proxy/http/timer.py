"""One lazy timer per connection, for both sides of the proxy (the server's connections and the client's).

Arming only moves the deadline (an attribute write); the single `TimerHandle` stays where it is and, when it fires
before the deadline, re-arms itself for it. A connection arms a deadline around every wait of every request, and
most waits end long before it: two `call_later`/`cancel` pairs per request cost more than the proxying they guard.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class LazyTimer:
    """Calls `on_deadline` once the armed deadline has passed, unless it was disarmed (or re-armed later) first."""

    __slots__ = ("_handle", "_loop", "_on_deadline", "_when", "deadline")

    def __init__(self, loop: asyncio.AbstractEventLoop, on_deadline: Callable[[], None]) -> None:
        self._loop = loop
        self._on_deadline = on_deadline
        self._handle: asyncio.TimerHandle | None = None
        self._when = 0.0  # when `_handle` fires (its `when()`, without the call)
        self.deadline: float | None = None

    def arm(self, delay: float) -> None:
        deadline = self._loop.time() + delay
        self.deadline = deadline
        handle = self._handle
        if handle is not None and self._when > deadline:
            handle.cancel()
            handle = None
        if handle is None:
            self._when = deadline
            self._handle = self._loop.call_at(deadline, self._tick)

    def disarm(self) -> None:
        self.deadline = None

    def cancel(self) -> None:
        """Disarm and drop the handle: the connection is gone."""
        self.deadline = None
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self) -> None:
        self._handle = None
        deadline = self.deadline
        if deadline is None:
            return
        if self._loop.time() < deadline:
            self._when = deadline
            self._handle = self._loop.call_at(deadline, self._tick)
            return
        self.deadline = None
        self._on_deadline()
