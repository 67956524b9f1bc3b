"""Write hold: unsafe requests wait at the proxy during a cutover and go to whoever owns the data once the hold ends
(released, lapsed because its holder stopped renewing it, or at its timeout)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import LoopThread, Stack, make_table
from strangler_proxy.dataplane.app import ProxyApp
from strangler_proxy.dataplane.model import Route, Stage
from strangler_proxy.dataplane.write_hold import Hold, WriteHoldMiddleware, WriteHolds
from strangler_proxy.errors import HoldsNotInPlace, WritesInFlight
from strangler_proxy.http.server import ProxyServer, ServerLimits
from upstream_double import Received, Upstream, echo

ROUTE_OFF = Route(path="/api/catalog", service="catalog", stage=Stage.OFF)
ROUTE_LIVE = Route(path="/api/catalog", service="catalog", stage=Stage.LIVE)
ROUTE_CANARY_DATA = Route(path="/api/catalog", service="catalog", stage=Stage.CANARY, percent=10, data="catalog")


@pytest.fixture
def stack(loop_thread: LoopThread) -> Iterator[Stack]:
    """Monolith and catalog doubles, the ProxyApp behind the write hold, as `strangler proxy` serves it."""

    async def slow_writes(req: Received, writer: asyncio.StreamWriter) -> None:
        if req.target.endswith(b"/slow/"):
            await asyncio.sleep(0.5)
        await echo(req, writer)

    async def start() -> Stack:
        monolith, catalog = Upstream("monolith", slow_writes), Upstream("catalog")
        await monolith.start()
        await catalog.start()
        app = ProxyApp(make_table(monolith.url, catalog.url, ()))
        public = WriteHoldMiddleware(app)
        server = ProxyServer(public_app=public, host="127.0.0.1", port=0, limits=ServerLimits(shutdown_grace=1))
        await server.start()
        return Stack(loop_thread, monolith, catalog, app, server, extra=[public.holds])

    running = loop_thread.run(start())
    yield running

    async def stop() -> None:
        await running.server.stop()
        await running.monolith.stop()
        await running.catalog.stop()

    loop_thread.run(stop(), timeout=20)


def _holds(stack: Stack) -> WriteHolds:
    holds = stack.extra[0]
    assert isinstance(holds, WriteHolds)
    return holds


def _hold(
    stack: Stack, lifetime: float, max_queue: int = 10, *, lease: float | None = None, path: str = "/api/catalog"
) -> Hold:
    return stack.lt.run(_holds(stack).start(path, lifetime=lifetime, max_queue=max_queue, holder="t", lease=lease))


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
    while sum(h.waiting for h in _holds(stack).holds()) < count:
        assert time.monotonic() < deadline, "the request was never held"
        time.sleep(0.005)


def test_a_held_write_goes_to_the_new_owner_once_released(stack: Stack) -> None:
    stack.set_routes(ROUTE_OFF)
    hold = _hold(stack, 10)
    thread, result = _in_background(stack, "POST", "/api/catalog/products/", b"{}")
    _wait_until_held(stack, 1)
    assert not stack.monolith.received and not stack.catalog.received
    stack.set_routes(ROUTE_LIVE)
    stack.lt.call(_holds(stack).release, hold.id)
    thread.join(10)
    assert result[0][0] == 200
    assert [r.method for r in stack.catalog.received] == ["POST"]
    assert not stack.monolith.received
    assert _holds(stack).stats()["held"] == 1


def test_reads_and_other_routes_are_served_during_a_hold(stack: Stack) -> None:
    stack.set_routes(ROUTE_OFF)
    hold = _hold(stack, 10)
    assert stack.request("GET", "/api/catalog/products/")[0] == 200
    assert stack.request("POST", "/api/catalogue/x", b"{}")[0] == 200  # another segment: not covered
    assert stack.request("POST", "/api/orders/", b"{}")[0] == 200
    assert [r.method for r in stack.monolith.received] == ["GET", "POST", "POST"]
    stack.lt.call(_holds(stack).release, hold.id)


def test_a_hold_that_is_never_released_ends_at_its_timeout_and_its_write_goes_to_the_owner(stack: Stack) -> None:
    stack.set_routes(ROUTE_CANARY_DATA)
    stack.lt.call(stack.app.owners.set, "catalog", "service")
    hold = _hold(stack, 0.3)
    started = time.monotonic()
    status, _headers, _body = stack.request("PATCH", "/api/catalog/products/1/", b"{}")
    assert status == 200 and 0.25 < time.monotonic() - started < 3
    assert [r.method for r in stack.catalog.received] == ["PATCH"] and not stack.monolith.received
    assert hold.outcome == "expired" and not _holds(stack).active


def test_a_hold_lives_while_its_holder_renews_it_and_lapses_soon_after_it_stops(stack: Stack) -> None:
    stack.set_routes(ROUTE_CANARY_DATA)
    stack.lt.call(stack.app.owners.set, "catalog", "monolith")
    hold = _hold(stack, 30, lease=0.3)
    thread, result = _in_background(stack, "POST", "/api/catalog/products/", b"{}")
    _wait_until_held(stack, 1)
    renewed_until = time.monotonic() + 1.0
    while time.monotonic() < renewed_until:  # three lease lengths: renewals keep it alive
        assert stack.lt.call(_holds(stack).renew, hold.id) is hold
        time.sleep(0.05)
    assert hold.outcome is None and not result
    stopped = time.monotonic()
    thread.join(10)
    assert result[0][0] == 200 and time.monotonic() - stopped < 2
    assert hold.outcome == "lapsed" and stack.lt.call(_holds(stack).renew, hold.id) is None
    assert [r.method for r in stack.monolith.received] == ["POST"]


def test_a_write_let_go_by_one_hold_waits_for_another_that_covers_its_path(stack: Stack) -> None:
    stack.set_routes(ROUTE_OFF)
    first = _hold(stack, 10)
    thread, result = _in_background(stack, "POST", "/api/catalog/products/", b"{}")
    _wait_until_held(stack, 1)
    second = _hold(stack, 10, path="/api")
    stack.lt.call(_holds(stack).release, first.id)
    _wait_until_held(stack, 1)  # now behind the second hold
    assert not result and not stack.monolith.received
    stack.lt.call(_holds(stack).release, second.id)
    thread.join(10)
    assert result[0][0] == 200 and [r.method for r in stack.monolith.received] == ["POST"]


def test_a_hold_cannot_end_while_fenced_and_a_fence_needs_live_holds_covering_every_path(stack: Stack) -> None:
    holds = _holds(stack)
    hold = _hold(stack, 30, lease=0.2)

    async def fenced_past_the_lease() -> str | None:
        with holds.fenced([hold.id], ["/api/catalog", "/api/catalog/products"]):
            await asyncio.sleep(0.5)
            return hold.outcome

    assert stack.lt.run(fenced_past_the_lease()) is None
    deadline = time.monotonic() + 5
    while hold.outcome is None:  # the lapse waited for the fence, then came
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert hold.outcome == "lapsed"
    other = _hold(stack, 10)
    for ids, paths, said in [
        ([hold.id], ["/api/catalog"], "ended already"),
        ([other.id], ["/api/orders"], "/api/orders not held"),
        ([], ["/api/catalog"], "no hold was given"),
    ]:
        with pytest.raises(HoldsNotInPlace, match=said), holds.fenced(ids, paths):
            pass
    stack.lt.call(holds.release, other.id)


def test_a_write_beyond_the_hold_queue_is_refused_at_once(stack: Stack) -> None:
    stack.set_routes(ROUTE_OFF)
    hold = _hold(stack, 10, max_queue=1)
    thread, result = _in_background(stack, "POST", "/api/catalog/products/", b"{}")
    _wait_until_held(stack, 1)
    started = time.monotonic()
    status, _headers, body = stack.request("DELETE", "/api/catalog/products/2/")
    assert status == 503 and time.monotonic() - started < 2
    assert "already waiting" in json.loads(body)["detail"]
    stack.lt.call(_holds(stack).release, hold.id)
    thread.join(10)
    assert result[0][0] == 200
    assert [r.method for r in stack.monolith.received] == ["POST"]


def test_a_hold_starts_only_once_the_writes_already_forwarded_are_answered(stack: Stack) -> None:
    stack.set_routes(ROUTE_OFF)
    thread, result = _in_background(stack, "POST", "/api/catalog/slow/", b"{}")
    deadline = time.monotonic() + 5
    while not stack.monolith.received:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    started = time.monotonic()
    hold = _hold(stack, 10)
    assert time.monotonic() - started > 0.3  # the slow write (0.5 s) was answered first
    assert _holds(stack).stats()["held"] == 0
    thread.join(5)
    assert result[0][0] == 200
    _holds(stack).release(hold.id)


def test_a_hold_is_dropped_when_a_forwarded_write_outlives_it(stack: Stack) -> None:
    stack.set_routes(ROUTE_OFF)
    thread, _result = _in_background(stack, "POST", "/api/catalog/slow/", b"{}")
    deadline = time.monotonic() + 5
    while not stack.monolith.received:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    with pytest.raises(WritesInFlight):
        _hold(stack, 0.1)
    assert not _holds(stack).active
    thread.join(5)


def _slow_write_in_flight(stack: Stack) -> tuple[threading.Thread, list[Any]]:
    thread, result = _in_background(stack, "POST", "/api/catalog/slow/", b"{}")
    deadline = time.monotonic() + 5
    while not stack.monolith.received:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    return thread, result


def test_a_settling_hold_lets_writes_flow_until_none_is_in_flight_then_holds_from_that_moment(stack: Stack) -> None:
    stack.set_routes(ROUTE_OFF)
    slow, slow_result = _slow_write_in_flight(stack)
    asked = time.monotonic()
    held: list[Hold] = []
    holding = threading.Thread(
        target=lambda: held.append(
            stack.lt.run(_holds(stack).start("/api/catalog", lifetime=10, max_queue=10, holder="t", settle=5))
        )
    )
    holding.start()
    # Settling: nothing is held yet, so a write sent now goes straight through (it is fast: it does not keep the
    # path busy long enough to matter).
    assert stack.request("POST", "/api/catalog/fast/", body=b"{}")[0] == 200
    holding.join(10)
    slow.join(5)
    [hold] = held
    assert slow_result[0][0] == 200
    assert hold.started - asked > 0.3  # it began holding once the slow write (0.5 s) was answered, not before
    assert hold.as_dict()["age_s"] < 0.2  # and then had nothing in flight to wait for
    assert _holds(stack).stats()["held"] == 0 and [h.id for h in _holds(stack).holds()] == [hold.id]
    thread, result = _in_background(stack, "POST", "/api/catalog/after/", b"{}")
    _wait_until_held(stack, 1)  # from then on, writes wait
    _holds(stack).release(hold.id)
    thread.join(5)
    assert result[0][0] == 200


def test_a_hold_that_finds_no_quiet_moment_holds_at_the_end_of_its_settling_and_waits_as_before(stack: Stack) -> None:
    stack.set_routes(ROUTE_OFF)
    slow, _result = _slow_write_in_flight(stack)
    asked = time.monotonic()
    hold = stack.lt.run(_holds(stack).start("/api/catalog", lifetime=10, max_queue=10, holder="t", settle=0.1))
    answered = time.monotonic()
    assert answered - asked > 0.3  # the slow write was answered before the hold was
    assert 0.05 < hold.started - asked < answered - asked - 0.1  # holding from the end of its 0.1 s settling
    slow.join(5)
    _holds(stack).release(hold.id)
