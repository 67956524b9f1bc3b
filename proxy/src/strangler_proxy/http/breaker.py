"""A per-upstream circuit breaker: closed → open after N consecutive transport failures → half-open (one probe
request at a time) → closed on the probe's success, open again on its failure.

Open becomes half-open as soon as the upstream's health check answers (`healthy()`, called by the pool's active
probe while the circuit is open, issue 19), or after `cooldown` at the latest. Only transport failures count
(refused, timeout, broken connection): an upstream's own 5xx is an answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import IntEnum


class BreakerState(IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    __slots__ = ("_clock", "_cooldown", "_failures", "_on_change", "_opened_at", "_probing", "_state", "_threshold")

    def __init__(
        self,
        *,
        failures: int,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        self._threshold = failures
        self._cooldown = cooldown
        self._clock = clock
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self._cooldown:
            self._set(BreakerState.HALF_OPEN)
        return self._state

    def allow(self) -> bool:
        """Whether a request may go to the upstream now; in half-open, only the first caller gets to probe."""
        if self._state is BreakerState.CLOSED or self._threshold == 0:  # the common case, without `state`'s call
            return True
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        self._probing = False
        if self._state is not BreakerState.CLOSED:
            self._set(BreakerState.CLOSED)

    def healthy(self) -> None:
        """The upstream answered its health check: let one request through to decide (open → half-open)."""
        if self.state is BreakerState.OPEN:
            self._probing = False
            self._set(BreakerState.HALF_OPEN)

    def abandon(self) -> None:
        """The allowed request ended without a verdict on the upstream (e.g. the client left): free the probe."""
        self._probing = False

    def failure(self) -> None:
        if self._threshold == 0:
            return
        self._failures += 1
        self._probing = False
        if self._state is BreakerState.HALF_OPEN or self._failures >= self._threshold:
            self._opened_at = self._clock()
            self._set(BreakerState.OPEN)

    def _set(self, state: BreakerState) -> None:
        changed = state is not self._state
        self._state = state
        if changed and self._on_change is not None:  # failures of requests let through before it opened re-open it
            self._on_change(state)
