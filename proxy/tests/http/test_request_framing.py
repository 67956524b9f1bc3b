"""Framing is decided once, by the proxy: what goes upstream is framed from the body the proxy forwards, and a
``Connection`` header can never remove the framing, ``Host`` or a header the proxy sets (issue 9, class 1)."""

from __future__ import annotations

import socket

from conftest import Stack
from http_wire import exchange, parse_replies, read_all

SMUGGLED = b"GET /api/catalog/products/?page_size=100 HTTP/1.1\r\nHost: localhost\r\n\r\n"


def test_connection_naming_content_length_cannot_turn_a_body_into_a_second_request(stack: Stack) -> None:
    # The reproduction: the body is a whole request; were Content-Length dropped upstream, the upstream
    # would read it as a second request and answer it to whoever used the pooled connection next.
    body = SMUGGLED.ljust(70, b"x")
    reply, _ = exchange(
        stack.port,
        b"POST /api/catalog/products/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 70\r\n"
        b"Connection: content-length, close\r\n\r\n" + body,
    )
    (received,) = stack.monolith.received
    assert (received.method, received.target, received.body) == ("POST", b"/api/catalog/products/", body)
    assert received.header("Content-Length") == b"70"
    replies, _ = parse_replies(reply)
    assert [r.status for r in replies] == [200]
    # the next client on the pooled connection gets its own answer, not the smuggled one's
    status, _, answer = stack.request("GET", "/next")
    assert status == 200 and b'"/next"' in answer
    assert [r.target for r in stack.monolith.received] == [b"/api/catalog/products/", b"/next"]


def test_connection_naming_transfer_encoding_cannot_unframe_a_chunked_body(stack: Stack) -> None:
    reply, _ = exchange(
        stack.port,
        b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: transfer-encoding, close\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n",
    )
    (received,) = stack.monolith.received
    assert received.body == b"hello" and received.header("Content-Length") == b"5"
    assert parse_replies(reply)[0][0].status == 200


def test_connection_cannot_remove_host_or_the_headers_the_proxy_sets(stack: Stack) -> None:
    exchange(
        stack.port,
        b"GET /h HTTP/1.1\r\nHost: shop.test\r\nX-Request-Id: req-1\r\n"
        b"Connection: host, x-forwarded-for, via, x-request-id, x-forwarded-host, close\r\n\r\n",
    )
    (received,) = stack.monolith.received
    assert received.header("Host") == b"shop.test"
    assert received.header("X-Forwarded-For") == b"127.0.0.1"
    assert received.header("X-Forwarded-Host") == b"shop.test"
    assert received.header("Via") == b"1.1 strangler"
    assert received.header("X-Request-Id") == b"req-1"


def test_a_nominated_end_to_end_header_is_still_removed(stack: Stack) -> None:
    exchange(stack.port, b"GET /n HTTP/1.1\r\nHost: h\r\nX-Hop: 1\r\nConnection: X-Hop, close\r\n\r\n")
    (received,) = stack.monolith.received
    assert received.header("X-Hop") is None


def test_a_bodiless_request_that_declared_a_zero_length_keeps_it(stack: Stack) -> None:
    exchange(stack.port, b"POST /z HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    exchange(stack.port, b"GET /g HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    posted, got = stack.monolith.received
    assert posted.header("Content-Length") == b"0" and posted.body == b""
    assert got.header("Content-Length") is None and got.header("Transfer-Encoding") is None


def test_what_reaches_the_upstream_is_exactly_the_requests_the_client_framed(stack: Stack) -> None:
    # Three requests on one connection, framed three ways; the upstream must read exactly three, with their bodies.
    with socket.create_connection(("127.0.0.1", stack.port), timeout=5) as sock:
        sock.sendall(
            b"POST /1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: content-length\r\n\r\nabc"
            b"POST /2 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n1;x=y\r\nf\r\n0\r\n\r\n"
            b"GET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        )
        data, closed = read_all(sock)
    replies, rest = parse_replies(data)
    assert [r.status for r in replies] == [200, 200, 200] and rest == b"" and closed
    assert [(r.target, r.body) for r in stack.monolith.received] == [(b"/1", b"abc"), (b"/2", b"def"), (b"/3", b"")]
