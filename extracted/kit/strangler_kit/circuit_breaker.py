"""A circuit breaker for the calls one process makes to another service.

    closed ──`threshold` failed calls in a row──► open ──`cooldown_s` later──► half-open
      ▲                                            ▲                             │ one probe call at a time
      └────────────── the probe succeeds ──────────┼─────────────────────────────┤
                                                   └──── the probe fails ────────┘

While open, a call is refused at once (`BreakerOpen`, with the seconds until a probe may go) instead of waiting
out a timeout per request: a service that is down costs its callers nothing but the refusal. Thread-safe: one
breaker serves every thread of the process.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

DEFAULT_THRESHOLD = 5
DEFAULT_COOLDOWN_S = 5.0


class BreakerOpen(Exception):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"circuit open; a probe may go in {retry_after_s:.1f}s")
        self.retry_after_s = retry_after_s

    @property
    def retry_after(self) -> int:
        """Whole seconds, as a Retry-After header says it (at least 1)."""
        return max(1, math.ceil(self.retry_after_s))


class CircuitBreaker:
    def __init__(
        self,
        *,
        threshold: int = DEFAULT_THRESHOLD,
        cooldown_s: float = DEFAULT_COOLDOWN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half-open" if self._clock() - self._opened_at >= self.cooldown_s else "open"

    def admit(self) -> None:
        """Let a call go, or raise `BreakerOpen`. Every admitted call must end in `succeeded()` or `failed()`."""
        with self._lock:
            if self._opened_at is None:
                return
            waited = self._clock() - self._opened_at
            if waited < self.cooldown_s:
                raise BreakerOpen(self.cooldown_s - waited)
            if self._probing:  # one probe at a time: the others would only pile onto a service still down
                raise BreakerOpen(0.0)
            self._probing = True

    def succeeded(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._probing = False

    def failed(self) -> None:
        with self._lock:
            self._failures += 1
            if self._probing or self._failures >= self.threshold:
                self._opened_at = self._clock()
            self._probing = False
