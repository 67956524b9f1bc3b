"""A response the proxy produces before it read the request body either reads and drops the body (bounded) and keeps
the connection, or says ``Connection: close`` and closes gracefully — half-close, then drain — so the client reads
the answer rather than a reset (issue 19, first point; RFC 9112 §9.6). Never a silent close after a keep-alive
response."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest
from conftest import LoopThread, Stack, start_stack, stop_stack
from http_wire import parse_replies, read_all
from strangler_proxy.dataplane.model import Route, Stage
from strangler_proxy.dataplane.settings import ProxySettings
from strangler_proxy.http.server import ServerLimits

BAD_PATH = b"/api/catalog/%2F/x"  # refused by the data plane (400) before it reads the body


@pytest.fixture
def breaker_open(loop_thread: LoopThread) -> Iterator[Stack]:
    s = start_stack(
        loop_thread,
        (Route("/api/catalog", "catalog", Stage.LIVE),),
        settings=ProxySettings(breaker_failures=1, breaker_cooldown=60),
    )
    s.lt.run(s.catalog.stop())
    assert s.request("POST", "/api/catalog/items", body=b"{}")[0] == 502  # opens the breaker
    yield s
    stop_stack(s)


def test_a_post_whose_body_comes_late_and_the_get_behind_it_are_both_answered(breaker_open: Stack) -> None:
    with socket.create_connection(("127.0.0.1", breaker_open.port), timeout=5) as sock:
        sock.sendall(b"POST /api/catalog/items HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n")
        time.sleep(0.03)  # how Python's http.client sends a body: a write of its own, a moment later
        sock.sendall(b"{}")
        sock.sendall(b"GET /api/catalog/items HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        data, closed = read_all(sock)
    replies, rest = parse_replies(data)
    assert [r.status for r in replies] == [503, 200] and rest == b"" and closed
    assert b"circuit_open" in replies[0].body and not replies[0].closes
    assert [r.target for r in breaker_open.monolith.received] == [b"/api/catalog/items"]  # the GET's fallback


def test_an_answer_before_a_small_body_keeps_the_connection_and_drops_the_body(stack: Stack) -> None:
    with socket.create_connection(("127.0.0.1", stack.port), timeout=5) as sock:
        sock.sendall(b"POST " + BAD_PATH + b" HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n")
        first = b""
        while b"}" not in first:
            first += sock.recv(65536)
        sock.sendall(b"hello world")
        sock.sendall(b"GET /next HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        data, closed = read_all(sock)
    replies, rest = parse_replies(first + data)
    assert [r.status for r in replies] == [400, 200] and rest == b"" and closed
    assert not replies[0].closes
    assert [(r.method, r.target) for r in stack.monolith.received] == [("GET", b"/next")]


@pytest.fixture
def small_buffer(loop_thread: LoopThread) -> Iterator[Stack]:
    s = start_stack(loop_thread, limits=ServerLimits(body_buffer=1000, shutdown_grace=1))
    yield s
    stop_stack(s)


def test_an_answer_before_a_large_body_says_close_and_the_client_reads_it_whole(small_buffer: Stack) -> None:
    body = b"x" * 300_000
    with socket.create_connection(("127.0.0.1", small_buffer.port), timeout=5) as sock:
        sock.sendall(b"POST " + BAD_PATH + b" HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(body))
        sock.sendall(body)  # the proxy has answered already; it drains what comes meanwhile
        data, closed = read_all(sock)
    (reply,), rest = parse_replies(data)
    assert reply.status == 400 and reply.closes and closed and rest == b""


def test_an_expect_100_continue_request_answered_early_is_told_the_connection_closes(stack: Stack) -> None:
    with socket.create_connection(("127.0.0.1", stack.port), timeout=5) as sock:
        sock.sendall(b"POST " + BAD_PATH + b" HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        data, closed = read_all(sock)
    (reply,), _ = parse_replies(data)
    assert reply.status == 400 and reply.interim == [] and reply.closes and closed


def test_a_refused_request_with_a_large_body_still_reaches_the_client_as_a_response(stack: Stack) -> None:
    with socket.create_connection(("127.0.0.1", stack.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4x\r\n\r\n")
        with contextlib.suppress(OSError):  # whatever happens to the sending, the answer must be readable
            sock.sendall(b"y" * 1_000_000)
        data, closed = read_all(sock)
    (reply,), _ = parse_replies(data)
    assert reply.status == 400 and reply.closes and closed
    assert stack.monolith.received == []
