from __future__ import annotations

from strangler_proxy.http.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_it_opens_after_consecutive_failures_only() -> None:
    breaker = CircuitBreaker(failures=3, cooldown=5, clock=Clock())
    for _ in range(2):
        breaker.failure()
    breaker.success()
    breaker.failure()
    breaker.failure()
    assert breaker.allow() and breaker.state is BreakerState.CLOSED
    breaker.failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()


def test_after_the_cooldown_one_probe_goes_through_and_decides() -> None:
    clock = Clock()
    changes: list[BreakerState] = []
    breaker = CircuitBreaker(failures=1, cooldown=5, clock=clock, on_change=changes.append)
    breaker.failure()
    clock.now = 4.9
    assert not breaker.allow()
    clock.now = 5.0
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one at a time
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    clock.now = 10.0
    assert breaker.allow()
    breaker.success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()
    assert changes == [
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.CLOSED,
    ]


def test_an_abandoned_probe_frees_the_slot() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cooldown=1, clock=clock)
    breaker.failure()
    clock.now = 1
    assert breaker.allow()
    breaker.abandon()
    assert breaker.allow()


def test_a_threshold_of_zero_disables_the_breaker() -> None:
    breaker = CircuitBreaker(failures=0, cooldown=1, clock=Clock())
    for _ in range(100):
        breaker.failure()
    assert breaker.allow()
