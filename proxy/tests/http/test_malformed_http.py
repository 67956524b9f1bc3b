"""Requests that could be read two ways are refused at the edge and never reach an upstream."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from conftest import LoopThread, Stack, start_stack, stop_stack
from strangler_proxy.http.server import ServerLimits


def exchange(port: int, data: bytes, wait: float = 3) -> tuple[bytes, bool]:
    """Send `data`; return what came back and whether the proxy closed the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        out = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return out, True
                out += chunk
        except TimeoutError:
            return out, False
        except ConnectionResetError:
            return out, True


def status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0


SMUGGLING = {
    "content-length with transfer-encoding (CL.TE)": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
    "transfer-encoding with content-length (TE.CL)": b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
    "two different content-lengths": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n"
    b"abcde",
    "two equal content-lengths": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd",
    "content-length with a sign": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +4\r\n\r\nabcd",
    "content-length that is not a number": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4x\r\n\r\nabcd",
    "content-length list": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4, 4\r\n\r\nabcd",
    "negative content-length": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
    "transfer-encoding other than chunked": b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
    b"0\r\n\r\n",
    "transfer-encoding identity": b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n",
    "repeated transfer-encoding": b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "whitespace before the colon": b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "invalid chunk size": b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "obsolete line folding": b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  folded\r\n\r\n",
    "missing host": b"GET / HTTP/1.1\r\n\r\n",
    "duplicate host": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "absolute-form target with userinfo": b"GET http://user@evil.test/x HTTP/1.1\r\nHost: h\r\n\r\n",
    "asterisk target for GET": b"GET * HTTP/1.1\r\nHost: h\r\n\r\n",
    "NUL in a header": b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n",
    "bare CR in a header": b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n",
    "space in the target": b"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n",
    "unknown HTTP version": b"GET / HTTP/2.0\r\nHost: h\r\n\r\n",
    "garbage request line": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
}


@pytest.mark.parametrize("request_bytes", SMUGGLING.values(), ids=SMUGGLING.keys())
def test_an_ambiguous_or_malformed_request_is_refused_and_the_connection_closed(
    stack: Stack, request_bytes: bytes
) -> None:
    reply, closed = exchange(stack.port, request_bytes)
    assert status_of(reply) in (400, 505), reply
    assert b'"producer":"strangler-proxy"' in reply
    assert closed
    assert stack.monolith.received == []


def test_an_absolute_form_target_is_served_with_its_authority_as_host(stack: Stack) -> None:
    reply, closed = exchange(
        stack.port, b"GET http://shop.test/x?q=1 HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n"
    )
    assert status_of(reply) == 200 and closed
    (received,) = stack.monolith.received
    assert received.target == b"/x?q=1" and received.header("Host") == b"shop.test"


def test_http_1_0_without_host_is_served(stack: Stack) -> None:
    reply, closed = exchange(stack.port, b"GET /x HTTP/1.0\r\n\r\n")
    assert status_of(reply) == 200 and closed
    assert len(stack.monolith.received) == 1


def test_an_oversized_url_is_refused_with_414(stack: Stack) -> None:
    reply, closed = exchange(stack.port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: h\r\n\r\n")
    assert status_of(reply) == 414 and closed
    assert stack.monolith.received == []


def test_an_oversized_header_is_refused_with_431(stack: Stack) -> None:
    reply, closed = exchange(stack.port, b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * 50_000 + b"\r\n\r\n")
    assert status_of(reply) == 431 and closed
    assert stack.monolith.received == []


def test_too_many_headers_are_refused_with_431(stack: Stack) -> None:
    many = b"".join(b"X-H%d: 1\r\n" % i for i in range(150))
    reply, closed = exchange(stack.port, b"GET / HTTP/1.1\r\nHost: h\r\n" + many + b"\r\n")
    assert status_of(reply) == 431 and closed
    assert stack.monolith.received == []


@pytest.fixture
def impatient(loop_thread: LoopThread) -> Iterator[Stack]:
    limits = ServerLimits(header_timeout=0.5, keepalive_timeout=0.5, body_timeout=0.5, shutdown_grace=1)
    s = start_stack(loop_thread, limits=limits)
    yield s
    stop_stack(s)


def test_a_client_dribbling_its_head_is_cut_off_after_the_header_timeout(impatient: Stack) -> None:
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n")
        reply = b""
        try:
            for _ in range(40):  # one header byte every 0.1 s would keep a naive server waiting forever
                sock.sendall(b"X")
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
        elapsed = time.monotonic() - started
    assert status_of(reply) == 408
    assert elapsed < 3
    assert impatient.monolith.received == []


def test_an_idle_keep_alive_connection_is_closed(impatient: Stack) -> None:
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        first = sock.recv(65536)
        started = time.monotonic()
        rest = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200") and rest == b""
        assert time.monotonic() - started < 2


def test_a_connection_that_never_sends_anything_is_closed(impatient: Stack) -> None:
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=5) as sock:
        started = time.monotonic()
        assert sock.recv(65536) == b""
        assert time.monotonic() - started < 2


def test_a_good_request_after_a_refused_one_on_another_connection_is_served(stack: Stack) -> None:
    exchange(stack.port, SMUGGLING["content-length with transfer-encoding (CL.TE)"])
    reply, _ = exchange(stack.port, b"GET /ok HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert status_of(reply) == 200
    assert [r.target for r in stack.monolith.received] == [b"/ok"]


def test_a_client_that_stalls_mid_body_gets_a_408_and_the_upstream_no_request(impatient: Stack) -> None:
    started = time.monotonic()
    reply, closed = exchange(impatient.port, b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
    assert status_of(reply) == 408 and closed
    assert time.monotonic() - started < 2
    assert impatient.monolith.received == []  # the upstream saw a connection cut before the body was complete


def test_connections_beyond_the_cap_are_closed_at_once(loop_thread: LoopThread) -> None:
    s = start_stack(loop_thread, limits=ServerLimits(max_connections=2, shutdown_grace=1))
    try:
        held = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(2)]
        time.sleep(0.1)
        reply, closed = exchange(s.port, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assert reply == b"" and closed
        for sock in held:
            sock.close()
        time.sleep(0.1)
        reply, _ = exchange(s.port, b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        assert status_of(reply) == 200
    finally:
        stop_stack(s)
