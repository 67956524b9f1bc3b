from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from conftest import LoopThread, Stack, start_stack, stop_stack
from strangler_proxy.dataplane.settings import ProxySettings
from upstream_double import Received, respond


def error_of(body: bytes) -> str:
    data = json.loads(body)
    assert data["producer"] == "strangler-proxy"
    return str(data["error"])


@pytest.fixture
def quick(loop_thread: LoopThread) -> Iterator[Stack]:
    s = start_stack(
        loop_thread,
        settings=ProxySettings(breaker_failures=3, breaker_cooldown=0.5),
        read_timeout=0.3,
        max_connections=1,
        max_pending=1,
    )
    yield s
    stop_stack(s)


async def hang_up(req: Received, writer: asyncio.StreamWriter) -> None:
    writer.close()


def test_a_refused_upstream_gives_a_502_the_proxy_signs(quick: Stack) -> None:
    quick.lt.run(quick.monolith.stop())
    status, headers, body = quick.request("GET", "/x")
    assert status == 502 and headers["content-type"] == "application/json"
    assert error_of(body) == "upstream_unreachable"


def test_a_slow_upstream_gives_a_504(quick: Stack) -> None:
    async def slow(req: Received, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(1)
        await respond(writer, 200, None, b"late")

    quick.monolith.handler = slow
    started = time.monotonic()
    status, _, body = quick.request("GET", "/x")
    assert status == 504 and error_of(body) == "upstream_timeout"
    assert time.monotonic() - started < 0.9


def test_an_upstream_that_hangs_up_gives_a_502_and_a_write_is_never_retried(quick: Stack) -> None:
    quick.monolith.handler = hang_up
    status, _, body = quick.request("POST", "/x", body=b"{}")
    assert status == 502 and error_of(body) == "upstream_broken"
    assert len(quick.monolith.received) == 1


def test_an_idempotent_bodiless_request_is_retried_once_on_a_broken_connection(quick: Stack) -> None:
    calls = 0

    async def flaky(req: Received, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            writer.close()
            return
        await respond(writer, 200, None, b"second time")

    quick.monolith.handler = flaky
    status, _, body = quick.request("GET", "/x")
    assert (status, body) == (200, b"second time")
    assert len(quick.monolith.received) == 2
    assert 'strangler_proxy_retries_total{upstream="monolith"} 1.0' in quick.app.metrics_text().decode()


def test_a_malformed_upstream_response_gives_a_502(quick: Stack) -> None:
    async def garbage(req: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 abc\r\n\r\n")
        await writer.drain()

    quick.monolith.handler = garbage
    status, _, body = quick.request("POST", "/x", body=b"")
    assert status == 502 and error_of(body) == "upstream_broken"


def test_a_failure_after_the_response_started_cuts_the_connection_and_is_not_retried(quick: Stack) -> None:
    async def truncated(req: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
        await writer.drain()
        writer.close()

    quick.monolith.handler = truncated
    conn = http.client.HTTPConnection("127.0.0.1", quick.port, timeout=5)
    conn.request("GET", "/x")
    resp = conn.getresponse()
    assert resp.status == 200
    with pytest.raises(http.client.IncompleteRead):
        resp.read()
    conn.close()
    assert len(quick.monolith.received) == 1


def test_the_breaker_opens_after_repeated_failures_and_closes_after_a_good_probe(quick: Stack) -> None:
    quick.monolith.handler = hang_up
    for _ in range(3):
        assert quick.request("POST", "/x", body=b"")[0] == 502
    status, _, body = quick.request("POST", "/x", body=b"")
    assert status == 503 and error_of(body) == "circuit_open"
    assert len(quick.monolith.received) == 3  # the open circuit did not reach the upstream
    assert 'strangler_proxy_breaker_state{upstream="monolith"} 2.0' in quick.app.metrics_text().decode()
    from upstream_double import echo

    quick.monolith.handler = echo
    time.sleep(0.6)
    assert quick.request("POST", "/x", body=b"")[0] == 200
    assert quick.request("POST", "/x", body=b"")[0] == 200
    assert 'strangler_proxy_breaker_state{upstream="monolith"} 0.0' in quick.app.metrics_text().decode()


def test_requests_beyond_the_pending_cap_are_refused_with_503(quick: Stack) -> None:
    async def slow(req: Received, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.25)
        await respond(writer, 200, None, b"ok")

    quick.monolith.handler = slow
    statuses: list[int] = []

    def one() -> None:
        statuses.append(quick.request("GET", "/x")[0])

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
        time.sleep(0.02)
    for t in threads:
        t.join()
    assert statuses.count(200) >= 1 and statuses.count(503) >= 1
    assert set(statuses) <= {200, 503, 504}  # 504: the one waiting request outwaited its 0.3 s on a busy machine
    assert len(quick.monolith.received) == statuses.count(200)


def test_a_client_that_leaves_mid_response_frees_the_upstream_connection(quick: Stack) -> None:
    async def endless(req: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(1000):
                writer.write(b"10000\r\n" + b"x" * 0x10000 + b"\r\n")
                await writer.drain()
        except ConnectionError:
            return

    quick.monolith.handler = endless
    with socket.create_connection(("127.0.0.1", quick.port)) as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: h\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
    time.sleep(0.3)
    from upstream_double import echo

    quick.monolith.handler = echo
    assert quick.request("GET", "/after")[0] == 200  # max_connections=1: the slot was given back


def test_a_client_that_leaves_mid_upload_gets_the_upstream_connection_cut_too(quick: Stack) -> None:
    with socket.create_connection(("127.0.0.1", quick.port)) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1000)
        time.sleep(0.2)
    time.sleep(0.3)
    assert quick.monolith.received == []  # the upstream never saw a complete request
    assert quick.request("POST", "/after", body=b"ok")[0] == 200  # and the only connection slot is free again


def test_an_upstream_that_never_accepts_gives_a_504_after_the_connect_timeout(stack: Stack) -> None:
    from strangler_proxy.dataplane.model import RouteTable
    from strangler_proxy.dataplane.model import Upstream as UpstreamConfig

    full = socket.socket()
    full.bind(("127.0.0.1", 0))
    full.listen(0)
    port = full.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port))  # fills the accept queue: further SYNs are dropped
    try:
        table = RouteTable(
            version=5,
            upstreams={"monolith": UpstreamConfig("monolith", f"http://127.0.0.1:{port}", connect_timeout=0.3)},
            routes=(),
        )
        stack.lt.call(stack.app.set_table, table)
        started = time.monotonic()
        status, _, body = stack.request("GET", "/x")
        assert status == 504 and error_of(body) == "upstream_timeout"
        assert b"connect timeout" in body
        assert 0.25 < time.monotonic() - started < 2
    finally:
        filler.close()
        full.close()
