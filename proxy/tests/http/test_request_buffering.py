"""Request bodies and their limits, as nginx does by default (issue 9, class 6): a body up to the buffer is read whole
before an upstream is called; a larger one streams, within a deadline and a minimum rate; a body over the maximum
is refused with 413 before any ``100 Continue``; ``100 Continue`` goes out only once the request is routed and its
client identified; a chunked body reaches a WSGI app whole."""

from __future__ import annotations

import asyncio
import http.client
import json
import select
import socket
import time
from collections.abc import Iterator

import pytest
from conftest import LoopThread, Stack, start_stack, stop_stack
from http_wire import close_quietly, exchange, parse_replies, read_all, wait_until
from strangler_proxy.dataplane.identity import IdentitySigner
from strangler_proxy.dataplane.model import Route, Stage
from strangler_proxy.http.server import ServerLimits
from upstream_double import Received, echo, respond
from wsgi_upstream import wsgi_upstream


def head(target: bytes, length: int, extra: bytes = b"") -> bytes:
    return b"POST " + target + b" HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n" % length + extra + b"\r\n"


def test_a_body_within_the_buffer_is_read_whole_before_the_upstream_hears_of_it(stack: Stack) -> None:
    with socket.create_connection(("127.0.0.1", stack.port), timeout=5) as sock:
        sock.sendall(head(b"/upload", 10, b"Connection: close\r\n") + b"01234")
        # another client is answered meanwhile: the proxy has read the first half, and still called nobody
        assert stack.request("GET", "/other")[0] == 200
        assert stack.monolith.heads == [b"/other"]
        sock.sendall(b"56789")
        data, _ = read_all(sock)
    assert parse_replies(data)[0][0].status == 200
    upload = stack.monolith.received[-1]
    assert upload.body == b"0123456789" and upload.header("Content-Length") == b"10"


@pytest.fixture
def small_buffer(loop_thread: LoopThread) -> Iterator[Stack]:
    s = start_stack(loop_thread, limits=ServerLimits(body_buffer=1000, max_body=100_000, shutdown_grace=1))
    yield s
    stop_stack(s)


def test_a_body_larger_than_the_buffer_streams_upstream_with_its_length(small_buffer: Stack) -> None:
    with socket.create_connection(("127.0.0.1", small_buffer.port), timeout=5) as sock:
        sock.sendall(head(b"/big", 5000, b"Connection: close\r\n") + b"a" * 2000)
        wait_until(lambda: small_buffer.monolith.heads == [b"/big"], what="the upstream to be called mid-body")
        sock.sendall(b"b" * 3000)
        data, _ = read_all(sock)
    assert parse_replies(data)[0][0].status == 200
    (big,) = small_buffer.monolith.received
    assert big.body == b"a" * 2000 + b"b" * 3000 and big.header("Content-Length") == b"5000" and not big.chunked


def test_a_chunked_body_larger_than_the_buffer_streams_upstream_chunked(small_buffer: Stack) -> None:
    chunks = [b"3e8\r\n" + bytes([65 + i]) * 1000 + b"\r\n" for i in range(3)]
    with socket.create_connection(("127.0.0.1", small_buffer.port), timeout=5) as sock:
        sock.sendall(b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        sock.sendall(chunks[0] + chunks[1])
        wait_until(lambda: small_buffer.monolith.heads == [b"/c"], what="the upstream to be called mid-body")
        sock.sendall(chunks[2] + b"0\r\n\r\n")
        data, _ = read_all(sock)
    assert parse_replies(data)[0][0].status == 200
    (received,) = small_buffer.monolith.received
    assert received.chunked and received.body == b"A" * 1000 + b"B" * 1000 + b"C" * 1000


def test_a_declared_body_over_the_maximum_gets_413_before_any_100_continue(small_buffer: Stack) -> None:
    with socket.create_connection(("127.0.0.1", small_buffer.port), timeout=5) as sock:
        sock.sendall(head(b"/huge", 200_000, b"Expect: 100-continue\r\n"))
        data, closed = read_all(sock)
    (reply,), rest = parse_replies(data)
    assert reply.status == 413 and reply.interim == [] and reply.closes and closed and rest == b""
    assert json.loads(reply.body)["error"] == "body_too_large"
    assert small_buffer.monolith.heads == []


def test_a_chunked_body_growing_past_the_maximum_gets_413(small_buffer: Stack) -> None:
    piece = b"%x\r\n" % 50_000 + b"x" * 50_000 + b"\r\n"
    reply, closed = exchange(
        small_buffer.port, b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + piece * 3
    )
    assert parse_replies(reply)[0][0].status == 413 and closed


def test_a_chunked_body_reaches_a_wsgi_app_whole(loop_thread: LoopThread) -> None:
    with wsgi_upstream() as wsgi:
        s = start_stack(loop_thread, monolith_url=wsgi.url)
        try:
            reply, _ = exchange(
                s.port,
                b"POST /api/reviews/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                b'7\r\n{"a": 1\r\n1\r\n}\r\n0\r\n\r\n',
            )
        finally:
            stop_stack(s)
    assert parse_replies(reply)[0][0].body == b'{"a": 1}'
    (seen,) = wsgi.seen
    assert seen.body == b'{"a": 1}' and seen.environ["CONTENT_LENGTH"] == "8"


KEY = "a-key-for-these-tests-only-0123456789"


async def identity_provider(req: Received, writer: asyncio.StreamWriter) -> None:
    if not req.target.startswith(b"/internal/identity/"):
        await echo(req, writer)
    elif req.header("Authorization") == b"Token good":
        await respond(writer, 200, None, b'{"user": {"id": 1, "username": "alice", "is_staff": false}}')
    else:
        await respond(writer, 401, None, b'{"detail": "Invalid token."}')


@pytest.fixture
def identified(loop_thread: LoopThread) -> Iterator[Stack]:
    s = start_stack(loop_thread, (Route("/api/catalog", "catalog", Stage.LIVE),), identity=IdentitySigner(KEY))
    s.monolith.handler = identity_provider
    yield s
    stop_stack(s)


def test_100_continue_comes_only_after_forward_auth_said_yes(identified: Stack) -> None:
    with socket.create_connection(("127.0.0.1", identified.port), timeout=5) as sock:
        sock.sendall(head(b"/api/catalog/x", 5, b"Authorization: Token good\r\nExpect: 100-continue\r\n"))
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        # by now the monolith was asked who the client is, and the service has not been called
        assert [r.target.split(b"?")[0] for r in identified.monolith.received] == [b"/internal/identity/"]
        assert identified.catalog.heads == []
        sock.sendall(b"hello")
        (reply,), _ = parse_replies(sock.recv(65536))
    assert reply.status == 200 and identified.catalog.received[0].body == b"hello"


def test_a_refusal_by_forward_auth_comes_without_100_continue_and_closes(identified: Stack) -> None:
    with socket.create_connection(("127.0.0.1", identified.port), timeout=5) as sock:
        sock.sendall(head(b"/api/catalog/x", 5, b"Authorization: Token bad\r\nExpect: 100-continue\r\n"))
        data, closed = read_all(sock)
    (reply,), _ = parse_replies(data)
    assert reply.status == 401 and reply.interim == [] and reply.closes and closed
    assert identified.catalog.heads == []


@pytest.fixture
def strict_bodies(loop_thread: LoopThread) -> Iterator[Stack]:
    limits = ServerLimits(body_timeout=0.5, body_deadline=2.0, body_min_rate=2000, shutdown_grace=1)
    s = start_stack(loop_thread, limits=limits)
    yield s
    stop_stack(s)


def dribble(port: int, pieces: int, piece: bytes, every: float) -> tuple[bytes, float]:
    """Send a POST whose body comes a `piece` every `every` seconds, until the proxy answers; return the reply and
    how long after the head it came."""
    started = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        sock.sendall(head(b"/slow", pieces * len(piece)))
        for _ in range(pieces):
            sock.sendall(piece)
            if select.select([sock], [], [], every)[0]:  # the client's pace, or the answer, whichever comes first
                break
        took = time.monotonic() - started
        data, _ = read_all(sock)
    finally:
        close_quietly(sock)
    return data, took


def test_a_body_slower_than_the_minimum_rate_gets_408(strict_bodies: Stack) -> None:
    data, took = dribble(strict_bodies.port, 40, b"x" * 100, 0.1)  # 1000 B/s, never a gap of 0.5 s
    (reply,), _ = parse_replies(data)
    assert reply.status == 408 and json.loads(reply.body)["error"] == "request_timeout"
    assert took < 1.9  # the rate gave out before the deadline (2 s)
    assert strict_bodies.monolith.heads == []


def test_a_body_that_outlasts_the_deadline_gets_408(strict_bodies: Stack) -> None:
    data, took = dribble(strict_bodies.port, 40, b"x" * 400, 0.1)  # 4000 B/s, above the rate, for 4 s
    assert parse_replies(data)[0][0].status == 408
    assert 1.9 < took < 3.5
    assert strict_bodies.monolith.heads == []


def test_two_hundred_slow_bodies_do_not_keep_the_monolith_from_answering_others(loop_thread: LoopThread) -> None:
    s = start_stack(loop_thread)
    s.monolith.workers = 4  # like a few sync workers, each busy from a request's head to its response
    slow: list[socket.socket] = []
    try:
        for i in range(200):
            sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            sock.sendall(head(b"/slow/%d" % i, 1000) + b"x" * 10)
            slow.append(sock)
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
        started = time.monotonic()
        for i in range(20):
            conn.request("GET", f"/fast/{i}")
            response = conn.getresponse()
            assert response.status == 200 and json.loads(response.read())["target"] == f"/fast/{i}"
        assert time.monotonic() - started < 5
        conn.close()
        assert not [h for h in s.monolith.heads if h.startswith(b"/slow")]
    finally:
        for sock in slow:
            close_quietly(sock)
        stop_stack(s)
