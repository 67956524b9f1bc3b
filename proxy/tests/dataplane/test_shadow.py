from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import LoopThread, Stack, start_stack, stop_stack
from strangler_proxy.dataplane.model import Route, Stage
from strangler_proxy.dataplane.settings import ProxySettings


def test_a_dead_service_in_shadow_is_recorded_and_the_client_never_notices(stack: Stack) -> None:
    stack.set_routes(Route("/api/catalog", "catalog", Stage.SHADOW))
    stack.lt.run(stack.catalog.stop())
    status, _, _ = stack.request("GET", "/api/catalog/1")
    stack.drain_shadow()
    assert status == 200
    (result,) = stack.app.shadow.recent()
    assert result.shadow is None and result.error is not None and result.error.startswith("upstream_unreachable")
    assert (
        'strangler_proxy_shadow_total{outcome="failed",route="/api/catalog"} 1.0' in stack.app.metrics_text().decode()
    )


@pytest.fixture
def small_bodies(loop_thread: LoopThread) -> Iterator[Stack]:
    s = start_stack(
        loop_thread,
        (Route("/api/catalog", "catalog", Stage.SHADOW, mirror_unsafe=True),),
        settings=ProxySettings(shadow_body_limit=10),
    )
    yield s
    stop_stack(s)


def test_a_request_body_over_the_limit_is_not_mirrored_but_still_served(small_bodies: Stack) -> None:
    status, _, _ = small_bodies.request("POST", "/api/catalog/1", body=b"x" * 11)
    small_bodies.drain_shadow()
    assert status == 200 and small_bodies.catalog.received == []
    assert small_bodies.monolith.received[0].body == b"x" * 11
    metrics = small_bodies.app.metrics_text().decode()
    assert 'strangler_proxy_shadow_total{outcome="skipped_body_too_large",route="/api/catalog"} 1.0' in metrics


def test_a_chunked_body_within_the_limit_is_mirrored_with_its_length(small_bodies: Stack) -> None:
    small_bodies.raw(
        b"POST /api/catalog/1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    small_bodies.drain_shadow()
    (mirrored,) = small_bodies.catalog.received
    assert mirrored.body == b"abcde" and mirrored.header("Content-Length") == b"5"
    (result,) = small_bodies.app.shadow.recent()
    assert result.primary.truncated  # the monolith's echo is longer than 10 bytes: its start is kept
    assert len(result.primary.body) == 10


def test_the_ring_of_recent_results_is_bounded_in_bytes(loop_thread: LoopThread) -> None:
    s = start_stack(
        loop_thread,
        (Route("/api/catalog", "catalog", Stage.SHADOW, mirror_unsafe=True),),
        settings=ProxySettings(shadow_ring=1000, shadow_ring_bytes=20_000),
    )
    try:
        for i in range(20):
            assert s.request("POST", f"/api/catalog/{i}", body=b"b" * 3000)[0] == 200
        s.drain_shadow()
        recent = s.app.shadow.recent()
        assert 0 < len(recent) < 20
        assert sum(r.size for r in recent) <= 20_000
        assert b"/api/catalog/19" in {r.request.target for r in recent}  # the oldest went first
    finally:
        stop_stack(s)
