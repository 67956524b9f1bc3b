"""The breaker's states, on a clock the test moves (the breaker takes its clock as an argument)."""

import pytest

from common.circuit_breaker import BreakerOpen, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        breaker.admit()
        breaker.failed()


def test_it_opens_after_threshold_failures_in_a_row_not_before(clock):
    breaker = CircuitBreaker(threshold=3, cooldown_s=5, clock=clock)
    fail(breaker, 2)
    breaker.admit()
    breaker.succeeded()  # a success in between starts the count again
    fail(breaker, 2)
    assert breaker.state == "closed"

    fail(breaker, 1)

    assert breaker.state == "open"
    with pytest.raises(BreakerOpen) as refused:
        breaker.admit()
    assert refused.value.retry_after == 5


def test_after_the_cooldown_one_probe_goes_and_its_success_closes_it(clock):
    breaker = CircuitBreaker(threshold=1, cooldown_s=5, clock=clock)
    fail(breaker, 1)
    clock.now += 4.2
    with pytest.raises(BreakerOpen) as refused:
        breaker.admit()
    assert refused.value.retry_after == 1  # 0.8 s, rounded up to what Retry-After can say

    clock.now += 1
    assert breaker.state == "half-open"
    breaker.admit()  # the probe
    with pytest.raises(BreakerOpen):
        breaker.admit()  # nobody else while it is out
    breaker.succeeded()

    assert breaker.state == "closed"
    breaker.admit()


def test_a_failed_probe_opens_it_for_another_cooldown(clock):
    breaker = CircuitBreaker(threshold=2, cooldown_s=5, clock=clock)
    fail(breaker, 2)
    clock.now += 5

    fail(breaker, 1)  # the probe fails: one failure is enough now

    assert breaker.state == "open"
    clock.now += 4.9
    with pytest.raises(BreakerOpen):
        breaker.admit()
