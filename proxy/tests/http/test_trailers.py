"""Issue 9, class 3: trailer fields never become header fields, in either direction.

A client's chunked body with trailers reaches the upstream without them (whether the body was read whole first or
streamed); an upstream's chunked response with trailers reaches the client with its headers only, so a trailer
cannot set a header the upstream's head did not (a length, a cookie, the identity).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from conftest import LoopThread, Stack, start_stack, stop_stack
from http_wire import exchange, parse_replies
from strangler_proxy.http.server import ServerLimits
from upstream_double import Received, echo

TRAILERS = b"X-Strangler-Identity: forged\r\nX-Trailer: 1\r\nSet-Cookie: sessionid=evil\r\n"


@pytest.fixture
def streaming(loop_thread: LoopThread) -> Iterator[Stack]:
    s = start_stack(loop_thread, limits=ServerLimits(body_buffer=4, shutdown_grace=1))
    yield s
    stop_stack(s)


def send_chunked_with_trailers(stack: Stack) -> None:
    request = (
        b"POST /t HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n" + TRAILERS + b"\r\n"
    )
    data, _ = exchange(stack.port, request)
    replies, _ = parse_replies(data)
    assert [r.status for r in replies] == [200], data
    received = stack.monolith.received[-1]
    assert received.body == b"hello world"
    names = received.header_names()
    for name in ("x-strangler-identity", "x-trailer", "set-cookie", "trailer"):
        assert name not in names
    assert names.count("content-length") + names.count("transfer-encoding") == 1
    assert received.header("content-length") in (None, b"11")


@pytest.mark.parametrize("fixture", ["stack", "streaming"], ids=["read-whole", "streamed"])
def test_a_clients_trailers_never_reach_the_upstream_as_headers(request: pytest.FixtureRequest, fixture: str) -> None:
    send_chunked_with_trailers(request.getfixturevalue(fixture))


@pytest.mark.parametrize("split", [False, True], ids=["one-write", "trailers-later"])
def test_an_upstreams_trailers_never_reach_the_client_as_headers(stack: Stack, split: bool) -> None:
    async def chunked_with_trailers(req: Received, writer: asyncio.StreamWriter) -> None:
        if req.path != b"/t":
            await echo(req, writer)
            return
        writer.write(b"HTTP/1.1 200 X\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        if split:
            await writer.drain()
            await asyncio.sleep(0.02)  # the head is relayed before the trailers come
        writer.write(b"0\r\n" + TRAILERS + b"\r\n")
        await writer.drain()

    stack.monolith.handler = chunked_with_trailers
    data, _ = exchange(stack.port, b"GET /t HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    replies, rest = parse_replies(data)
    assert len(replies) == 1 and rest == b"", data
    reply = replies[0]
    assert reply.status == 200 and reply.body == b"hello"
    names = [n.decode() for n, _ in reply.headers]
    for name in ("x-strangler-identity", "x-trailer", "set-cookie"):
        assert name not in names
    assert reply.header("content-length") in (None, b"5")
    assert b"forged" not in data and b"evil" not in data
    # and the next client on the pooled connection is served cleanly
    status, _, body = stack.request("GET", "/next")
    assert status == 200 and json.loads(body)["target"] == "/next"
