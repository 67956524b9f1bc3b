"""How often one client address may fail to log in to the console: `MAX_FAILURES` wrong tokens within `WINDOW`
seconds, then every login from that address is refused (429 with Retry-After) until the oldest of those failures
is `WINDOW` seconds old; a successful login forgets the address's failures.

Counted per peer address of the admin listener's connection, in this process's memory (each `--workers` process
counts its own; a restart forgets). Behind a reverse proxy every operator shares its address, so one client's
failures hold back everyone's logins for at most `WINDOW` seconds; X-Forwarded-For is not trusted here, because a
client could then name a fresh address for every guess.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

MAX_FAILURES = 5
WINDOW = 60.0
MAX_ADDRESSES = 10_000


class LoginLimits:
    def __init__(
        self,
        *,
        max_failures: int = MAX_FAILURES,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, address: str) -> int:
        """Whole seconds until `address` may try again; 0 when it may now."""
        failures = self._recent(address)
        if len(failures) < self.max_failures:
            return 0
        return max(1, math.ceil(failures[-self.max_failures] + self.window - self._clock()))

    def failed(self, address: str) -> None:
        if address not in self._failures and len(self._failures) >= MAX_ADDRESSES:
            self._forget_expired()
            if len(self._failures) >= MAX_ADDRESSES:  # a flood of addresses cannot grow memory: the stalest goes
                del self._failures[min(self._failures, key=lambda a: self._failures[a][-1])]
        self._failures.setdefault(address, deque(maxlen=self.max_failures)).append(self._clock())

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.get(address)
        if failures is None:
            return deque()
        horizon = self._clock() - self.window
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[address]
        return failures

    def _forget_expired(self) -> None:
        for address in list(self._failures):
            self._recent(address)
