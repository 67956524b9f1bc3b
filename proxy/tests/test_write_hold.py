"""Write hold: unsafe requests wait at the proxy during a cutover and go to whoever owns the route on release."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from conftest import Stack
from strangler_proxy.model import Route, Stage

ROUTE_OFF = Route(path="/api/catalog", service="catalog", stage=Stage.OFF)
ROUTE_LIVE = Route(path="/api/catalog", service="catalog", stage=Stage.LIVE)


def _in_background(
    stack: Stack, method: str, target: str, body: bytes | None = None
) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []

    def run() -> None:
        result.append(stack.request(method, target, body=body, headers={"content-type": "application/json"}))

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def _wait_until_held(stack: Stack, count: int) -> None:
    deadline = time.monotonic() + 5
    while sum(h.waiting for h in stack.app.holds.holds()) < count:
        assert time.monotonic() < deadline, "the request was never held"
        time.sleep(0.005)


def test_a_held_write_goes_to_the_new_owner_once_released(stack: Stack) -> None:
    stack.set_routes(ROUTE_OFF)
    hold = stack.lt.call(lambda: stack.app.holds.start("/api/catalog", timeout=10, max_queue=10))
    thread, result = _in_background(stack, "POST", "/api/catalog/products/", b"{}")
    _wait_until_held(stack, 1)
    assert not stack.monolith.received and not stack.catalog.received
    stack.set_routes(ROUTE_LIVE)
    stack.lt.call(stack.app.holds.release, hold.id)
    thread.join(10)
    assert result[0][0] == 200
    assert [r.method for r in stack.catalog.received] == ["POST"]
    assert not stack.monolith.received
    assert stack.app.holds.stats()["held"] == 1


def test_reads_and_other_routes_are_served_during_a_hold(stack: Stack) -> None:
    stack.set_routes(ROUTE_OFF)
    hold = stack.lt.call(lambda: stack.app.holds.start("/api/catalog", timeout=10, max_queue=10))
    assert stack.request("GET", "/api/catalog/products/")[0] == 200
    assert stack.request("POST", "/api/catalogue/x", b"{}")[0] == 200  # another segment: not covered
    assert stack.request("POST", "/api/orders/", b"{}")[0] == 200
    assert [r.method for r in stack.monolith.received] == ["GET", "POST", "POST"]
    stack.lt.call(stack.app.holds.release, hold.id)


def test_a_hold_that_is_never_released_expires_with_503_and_nothing_written(stack: Stack) -> None:
    stack.set_routes(ROUTE_OFF)
    stack.lt.call(lambda: stack.app.holds.start("/api/catalog", timeout=0.3, max_queue=10))
    started = time.monotonic()
    status, headers, body = stack.request("PATCH", "/api/catalog/products/1/", b"{}")
    assert status == 503
    assert 0.25 < time.monotonic() - started < 3
    assert headers["retry-after"] == "1"
    error = json.loads(body)
    assert error["producer"] == "strangler-proxy" and error["error"] == "write_hold"
    assert "did not finish" in error["detail"]
    assert not stack.monolith.received and not stack.catalog.received
    # The hold is gone: writes flow again without anyone releasing it.
    assert stack.request("PATCH", "/api/catalog/products/1/", b"{}")[0] == 200
    assert not stack.app.holds.active


def test_a_write_beyond_the_hold_queue_is_refused_at_once(stack: Stack) -> None:
    stack.set_routes(ROUTE_OFF)
    hold = stack.lt.call(lambda: stack.app.holds.start("/api/catalog", timeout=10, max_queue=1))
    thread, result = _in_background(stack, "POST", "/api/catalog/products/", b"{}")
    _wait_until_held(stack, 1)
    started = time.monotonic()
    status, _headers, body = stack.request("DELETE", "/api/catalog/products/2/")
    assert status == 503 and time.monotonic() - started < 2
    assert "already waiting" in json.loads(body)["detail"]
    stack.lt.call(stack.app.holds.release, hold.id)
    thread.join(10)
    assert result[0][0] == 200
    assert [r.method for r in stack.monolith.received] == ["POST"]
