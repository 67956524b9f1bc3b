from __future__ import annotations

import asyncio
import json
import math
import socket
import time
from collections.abc import Iterator

import pytest
from conftest import LoopThread, Stack, start_stack, stop_stack
from strangler_proxy.dataplane.cohort import BUCKETS, bucket, in_canary
from strangler_proxy.dataplane.model import Route, Stage, StickyKey
from strangler_proxy.dataplane.settings import ProxySettings
from strangler_proxy.dataplane.shadow import ShadowResult
from upstream_double import Received, respond


def by_user(user: str) -> dict[str, str]:
    return {"X-User": user}


USER_KEY = StickyKey("header", "X-User")


def test_without_a_route_the_monolith_answers(stack: Stack) -> None:
    assert stack.request("GET", "/api/catalog/1")[0] == 200
    assert len(stack.monolith.received) == 1 and stack.catalog.received == []


def test_an_off_route_goes_to_the_monolith(stack: Stack) -> None:
    stack.set_routes(Route("/api/catalog", "catalog", Stage.OFF))
    stack.request("GET", "/api/catalog/1")
    stack.request("POST", "/api/catalog/1", body=b"{}")
    assert len(stack.monolith.received) == 2 and stack.catalog.received == []


def test_a_live_route_sends_everything_to_the_service(stack: Stack) -> None:
    stack.set_routes(Route("/api/catalog", "catalog", Stage.LIVE))
    stack.request("GET", "/api/catalog/1")
    stack.request("POST", "/api/catalog/1", body=b"{}")
    stack.request("GET", "/api/orders/1")
    assert [r.method for r in stack.catalog.received] == ["GET", "POST"]
    assert [r.target for r in stack.monolith.received] == [b"/api/orders/1"]


def test_a_route_table_swap_applies_to_the_next_request(stack: Stack) -> None:
    client = stack.client()
    client.request("GET", "/api/catalog/1")
    stack.set_routes(Route("/api/catalog", "catalog", Stage.LIVE))
    client.request("GET", "/api/catalog/1")
    stack.set_routes()
    client.request("GET", "/api/catalog/1")
    client.close()
    assert len(stack.monolith.received) == 2 and len(stack.catalog.received) == 1


def test_shadow_answers_from_the_monolith_and_mirrors_safe_requests_to_the_service(stack: Stack) -> None:
    seen: list[ShadowResult] = []
    stack.lt.call(stack.app.shadow.on_shadow, seen.append)
    stack.set_routes(Route("/api/catalog", "catalog", Stage.SHADOW))
    status, _, body = stack.request("GET", "/api/catalog/1?page=2", headers=by_user("alice"))
    assert status == 200 and json.loads(body)["target"] == "/api/catalog/1?page=2"
    stack.drain_shadow()
    (primary,) = stack.monolith.received
    (mirrored,) = stack.catalog.received
    assert mirrored.target == primary.target == b"/api/catalog/1?page=2"
    assert mirrored.header("X-Strangler-Shadow") == b"1"
    assert mirrored.header("X-User") == b"alice"
    assert mirrored.header("X-Request-Id") == primary.header("X-Request-Id")
    (result,) = seen
    assert result == stack.app.shadow.recent()[-1]
    assert result.primary.status == 200 and json.loads(result.primary.body)["target"] == "/api/catalog/1?page=2"
    assert result.shadow is not None and result.shadow.status == 200 and result.error is None
    assert result.request.method == "GET" and result.request.route == "/api/catalog"


def test_shadow_never_mirrors_unsafe_requests_unless_the_route_opts_in(stack: Stack) -> None:
    stack.set_routes(Route("/api/catalog", "catalog", Stage.SHADOW))
    stack.request("POST", "/api/catalog/1", body=b'{"a":1}')
    stack.drain_shadow()
    assert stack.catalog.received == []
    stack.set_routes(Route("/api/catalog", "catalog", Stage.SHADOW, mirror_unsafe=True))
    stack.request("POST", "/api/catalog/1", body=b'{"a":1}')
    stack.drain_shadow()
    (mirrored,) = stack.catalog.received
    assert mirrored.method == "POST" and mirrored.body == b'{"a":1}'
    assert len(stack.monolith.received) == 2


@pytest.fixture
def small_shadow_pool(loop_thread: LoopThread) -> Iterator[Stack]:
    s = start_stack(
        loop_thread,
        (Route("/api/catalog", "catalog", Stage.SHADOW),),
        settings=ProxySettings(shadow_workers=1, shadow_queue=1),
    )
    yield s
    stop_stack(s)


def test_a_slow_service_in_shadow_neither_delays_clients_nor_queues_without_bound(small_shadow_pool: Stack) -> None:
    stack = small_shadow_pool

    async def slow(req: Received, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(1.0)
        await respond(writer, 200, None, b"{}")

    stack.catalog.handler = slow
    client = stack.client()
    started = time.monotonic()
    for i in range(6):
        assert client.request("GET", f"/api/catalog/{i}")[0] == 200
    elapsed = time.monotonic() - started
    client.close()
    assert elapsed < 0.9  # a proxy that waited for the 1 s mirror would need over 1 s for the first request
    metrics = stack.app.metrics_text().decode()
    assert 'strangler_proxy_shadow_total{outcome="dropped_queue_full",route="/api/catalog"} 4.0' in metrics
    assert 'strangler_proxy_shadow_total{outcome="mirrored",route="/api/catalog"} 2.0' in metrics


def test_cohorts_split_ten_thousand_clients_within_the_binomial_interval() -> None:
    n, p = 10_000, 0.10
    inside = sum(in_canary(bucket(f"user-{i}", "catalog"), 10) for i in range(n))
    half_width = 4 * math.sqrt(n * p * (1 - p))  # four standard deviations
    assert n * p - half_width <= inside <= n * p + half_width


def test_raising_the_percentage_never_moves_a_client_back() -> None:
    buckets = [bucket(f"user-{i}", "catalog") for i in range(10_000)]
    previous: set[int] = set()
    for percent in range(0, 101, 5):
        current = {i for i, b in enumerate(buckets) if in_canary(b, percent)}
        assert previous <= current
        previous = current
    assert len(previous) == 10_000
    assert not any(in_canary(b, 0) for b in buckets)
    assert all(0 <= b < BUCKETS for b in buckets)


def test_a_canary_route_splits_safe_requests_by_the_sticky_key_and_stays_sticky(stack: Stack) -> None:
    stack.set_routes(Route("/api/catalog", "catalog", Stage.CANARY, percent=30, sticky=USER_KEY))
    users = [f"user-{i}" for i in range(300)]
    client = stack.client()

    def on_service(percent_users: list[str]) -> set[str]:
        stack.monolith.received.clear()
        stack.catalog.received.clear()
        for user in percent_users:
            client.request("GET", "/api/catalog/1", headers=by_user(user))
        return {r.header("X-User").decode() for r in stack.catalog.received}  # type: ignore[union-attr]

    at_30 = on_service(users)
    assert at_30 == {u for u in users if in_canary(bucket("header:" + u, "catalog"), 30)}
    assert on_service(users) == at_30  # sticky
    stack.set_routes(Route("/api/catalog", "catalog", Stage.CANARY, percent=60, sticky=USER_KEY))
    at_60 = on_service(users)
    assert at_30 < at_60  # monotonic
    client.close()


def test_a_canary_route_keys_on_a_cookie_and_falls_back_to_the_client_address(stack: Stack) -> None:
    stack.set_routes(Route("/api/catalog", "catalog", Stage.CANARY, percent=50, sticky=StickyKey("cookie", "sid")))
    client = stack.client()
    sids = [f"s{i}" for i in range(100)]
    for sid in sids:
        client.request("GET", "/api/catalog/1", headers={"Cookie": f"theme=dark; sid={sid}"})
    expected = sum(in_canary(bucket("cookie:" + sid, "catalog"), 50) for sid in sids)
    assert len(stack.catalog.received) == expected
    stack.catalog.received.clear()
    stack.monolith.received.clear()
    for _ in range(5):
        client.request("GET", "/api/catalog/1")
    anonymous = in_canary(bucket("client:127.0.0.1", "catalog"), 50)
    assert len(stack.catalog.received if anonymous else stack.monolith.received) == 5
    client.close()


def test_a_canary_route_sends_writes_to_the_monolith_and_pins_the_writer_there(stack: Stack) -> None:
    route = Route("/api/catalog", "catalog", Stage.CANARY, percent=100, sticky=USER_KEY, pin_seconds=0.5)
    stack.set_routes(route)
    client = stack.client()
    client.request("GET", "/api/catalog/1", headers=by_user("alice"))
    assert len(stack.catalog.received) == 1
    client.request("POST", "/api/catalog/1", body=b"{}", headers=by_user("alice"))
    assert [r.method for r in stack.monolith.received] == ["POST"]
    client.request("GET", "/api/catalog/1", headers=by_user("alice"))  # reads its own write
    client.request("GET", "/api/catalog/1", headers=by_user("bob"))  # bob is not pinned
    assert [r.method for r in stack.monolith.received] == ["POST", "GET"]
    assert [r.header("X-User") for r in stack.catalog.received] == [b"alice", b"bob"]
    time.sleep(0.6)
    client.request("GET", "/api/catalog/1", headers=by_user("alice"))
    assert [r.header("X-User") for r in stack.catalog.received] == [b"alice", b"bob", b"alice"]
    client.close()


def test_a_live_route_with_a_dead_service_falls_back_to_the_monolith_for_safe_requests_only(stack: Stack) -> None:
    stack.set_routes(Route("/api/catalog", "catalog", Stage.LIVE))
    stack.lt.run(stack.catalog.stop())
    status, _, _ = stack.request("GET", "/api/catalog/1")
    assert status == 200 and len(stack.monolith.received) == 1
    status, headers, body = stack.request("POST", "/api/catalog/1", body=b"{}")
    assert status == 502 and headers["content-type"] == "application/json"
    assert json.loads(body)["producer"] == "strangler-proxy"
    assert len(stack.monolith.received) == 1
    assert 'strangler_proxy_fallbacks_total{route="/api/catalog"} 1.0' in stack.app.metrics_text().decode()


def test_a_canary_route_with_a_dead_service_falls_back_too(stack: Stack) -> None:
    stack.set_routes(Route("/api/catalog", "catalog", Stage.CANARY, percent=100))
    stack.lt.run(stack.catalog.stop())
    assert stack.request("GET", "/api/catalog/1")[0] == 200
    assert len(stack.monolith.received) == 1


def test_ten_thousand_clients_through_the_proxy_split_ten_ninety_within_the_binomial_interval(stack: Stack) -> None:
    stack.set_routes(Route("/api/catalog", "catalog", Stage.CANARY, percent=10, sticky=USER_KEY))
    n, batch = 10_000, 500
    with socket.create_connection(("127.0.0.1", stack.port), timeout=30) as sock:
        for start in range(0, n, batch):  # pipelined: 500 requests per write
            sock.sendall(
                b"".join(
                    b"GET /api/catalog/1 HTTP/1.1\r\nHost: h\r\nX-User: client-%d\r\n\r\n" % i
                    for i in range(start, start + batch)
                )
            )
            replies = b""
            while replies.count(b"HTTP/1.1 200 OK") < batch or not replies.endswith(b"}"):
                replies += sock.recv(1 << 20)
    on_service = {r.header("X-User") for r in stack.catalog.received}
    assert len(stack.catalog.received) + len(stack.monolith.received) == n
    half_width = 4 * math.sqrt(n * 0.1 * 0.9)
    assert n * 0.1 - half_width <= len(on_service) <= n * 0.1 + half_width
    assert on_service == {b"client-%d" % i for i in range(n) if in_canary(bucket(f"header:client-{i}", "catalog"), 10)}


def test_a_request_in_flight_finishes_on_its_table_when_a_swap_removes_its_upstream(stack: Stack) -> None:
    from strangler_proxy.dataplane.model import RouteTable
    from strangler_proxy.dataplane.model import Upstream as UpstreamConfig

    calls = 0

    async def breaks_once_after_the_swap(req: Received, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(0.3)
            writer.close()  # broken before the head: the GET is retried, after the swap, on its own table
            return
        await respond(writer, 200, None, b"from catalog")

    stack.catalog.handler = breaks_once_after_the_swap
    stack.set_routes(Route("/api/catalog", "catalog", Stage.LIVE))
    results: list[tuple[int, bytes]] = []

    def call() -> None:
        status, _, body = stack.request("GET", "/api/catalog/1")
        results.append((status, body))

    import threading

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.1)
    only_monolith = RouteTable(
        version=99, upstreams={"monolith": UpstreamConfig("monolith", stack.monolith.url)}, routes=()
    )
    stack.lt.call(stack.app.set_table, only_monolith)
    thread.join()
    assert results == [(200, b"from catalog")]
    assert stack.request("GET", "/api/catalog/1")[0] == 200 and len(stack.monolith.received) == 1


def test_a_write_during_shadow_pins_the_writer_when_the_route_moves_to_canary(stack: Stack) -> None:
    stack.set_routes(Route("/api/catalog", "catalog", Stage.SHADOW, sticky=USER_KEY, pin_seconds=5))
    stack.request("POST", "/api/catalog/1", body=b"{}", headers=by_user("alice"))
    stack.set_routes(Route("/api/catalog", "catalog", Stage.CANARY, percent=100, sticky=USER_KEY))
    stack.request("GET", "/api/catalog/1", headers=by_user("alice"))
    stack.request("GET", "/api/catalog/1", headers=by_user("bob"))
    assert [(r.method, r.header("X-User")) for r in stack.monolith.received] == [("POST", b"alice"), ("GET", b"alice")]
    assert [r.header("X-User") for r in stack.catalog.received] == [b"bob"]


def _users(upstream_received: list[Received]) -> list[tuple[str, bytes | None]]:
    return [(r.method, r.header("X-User")) for r in upstream_received]


def test_writes_on_a_data_route_go_to_the_owner_of_its_data_whatever_the_stage(stack: Stack) -> None:
    stack.set_routes(Route("/api/catalog", "catalog", Stage.CANARY, percent=0, sticky=USER_KEY, data="catalog"))
    stack.lt.call(stack.app.owners.set, "catalog", "service")  # the cutover committed; the route is not live yet
    stack.request("POST", "/api/catalog/1", body=b"{}", headers=by_user("alice"))
    stack.request("GET", "/api/catalog/1", headers=by_user("alice"))  # reads its write where it went
    stack.request("GET", "/api/catalog/1", headers=by_user("bob"))  # 0%: the monolith
    assert _users(stack.catalog.received) == [("POST", b"alice"), ("GET", b"alice")]
    assert _users(stack.monolith.received) == [("GET", b"bob")]


def test_on_a_live_route_whose_data_the_monolith_owns_writes_and_their_writer_go_to_the_monolith(stack: Stack) -> None:
    stack.set_routes(Route("/api/catalog", "catalog", Stage.LIVE, sticky=USER_KEY, data="catalog"))
    stack.lt.call(stack.app.owners.set, "catalog", "monolith")  # a rollback committed; the route is still live
    stack.request("DELETE", "/api/catalog/1", headers=by_user("alice"))
    stack.request("GET", "/api/catalog/1", headers=by_user("alice"))
    stack.request("GET", "/api/catalog/1", headers=by_user("bob"))
    assert _users(stack.monolith.received) == [("DELETE", b"alice"), ("GET", b"alice")]
    assert _users(stack.catalog.received) == [("GET", b"bob")]


def test_a_route_without_data_or_whose_spec_has_no_owner_follows_its_stage(stack: Stack) -> None:
    stack.lt.call(stack.app.owners.set, "catalog", "service")
    stack.set_routes(
        Route("/api/catalog", "catalog", Stage.CANARY, percent=100),
        Route("/api/search", "catalog", Stage.LIVE, data="search"),
    )
    stack.request("POST", "/api/catalog/1", body=b"{}")
    stack.request("POST", "/api/search/1", body=b"{}")
    assert [r.target for r in stack.monolith.received] == [b"/api/catalog/1"]
    assert [r.target for r in stack.catalog.received] == [b"/api/search/1"]


def test_a_pin_made_before_a_route_went_live_does_not_pull_its_reads_back_to_the_monolith(stack: Stack) -> None:
    stack.set_routes(Route("/api/catalog", "catalog", Stage.OFF, sticky=USER_KEY, pin_seconds=30))
    stack.request("POST", "/api/catalog/1", body=b"{}", headers=by_user("alice"))  # pinned to the monolith
    stack.set_routes(Route("/api/catalog", "catalog", Stage.LIVE, sticky=USER_KEY, pin_seconds=30))
    stack.request("GET", "/api/catalog/1", headers=by_user("alice"))  # the cutover carried her write over
    assert _users(stack.catalog.received) == [("GET", b"alice")]
