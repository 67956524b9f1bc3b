"""Issue 19, point 2: an open circuit closes as soon as the upstream is healthy again — its health path is probed
while the circuit is open (jittered, every `breaker_probe_interval`), the first healthy answer lets one request
through, and its success closes the circuit — not after a fixed cooldown, and without a herd of requests first."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from conftest import LoopThread, Stack, start_stack, stop_stack
from http_wire import wait_until
from strangler_proxy.dataplane.model import Route, Stage
from strangler_proxy.dataplane.settings import ProxySettings
from strangler_proxy.http.breaker import BreakerState, CircuitBreaker

SETTINGS = ProxySettings(breaker_failures=3, breaker_cooldown=60, breaker_probe_interval=0.1, retries=0)


@pytest.fixture
def live(loop_thread: LoopThread) -> Iterator[Stack]:
    s = start_stack(loop_thread, (Route("/api/catalog", "catalog", Stage.LIVE),), settings=SETTINGS)
    yield s
    stop_stack(s)


def breaker(stack: Stack) -> str:
    return stack.app.breaker_states().get("catalog", "closed")


def test_the_circuit_closes_within_a_second_of_the_service_answering_its_health_check(live: Stack) -> None:
    live.lt.run(live.catalog.stop())
    for _ in range(3):
        assert live.request("POST", "/api/catalog/x", body=b"{}")[0] == 502
    assert live.request("POST", "/api/catalog/x", body=b"{}")[0] == 503
    assert breaker(live) == "open"

    live.lt.run(live.catalog.start())  # the same port: the service is back
    back = time.monotonic()
    wait_until(lambda: breaker(live) != "open", timeout=1, what="the probe to find the service healthy")
    assert live.request("POST", "/api/catalog/x", body=b"{}")[0] == 200
    assert time.monotonic() - back < 1.0  # the cooldown is a minute: only the probe can have done it
    assert breaker(live) == "closed"

    probes = [r for r in live.catalog.received if r.path == b"/healthz"]
    writes = [r for r in live.catalog.received if r.path != b"/healthz"]
    assert len(probes) >= 1 and len(writes) == 1  # one probe answered, then the write; nothing else got through
    probes_then = len(probes)
    assert live.request("GET", "/api/catalog/x")[0] == 200
    assert len([r for r in live.catalog.received if r.path == b"/healthz"]) == probes_then  # closed: no probing


def test_a_healthy_answer_half_opens_and_only_one_request_probes() -> None:
    now = [0.0]
    b = CircuitBreaker(failures=1, cooldown=60, clock=lambda: now[0])
    b.failure()
    assert b.state is BreakerState.OPEN and not b.allow()
    b.healthy()
    assert b.state is BreakerState.HALF_OPEN
    assert b.allow() and not b.allow()  # one probe request at a time
    b.success()
    assert b.state is BreakerState.CLOSED and b.allow()
