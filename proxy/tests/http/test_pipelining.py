"""Pipelining: responses in order; a later malformed request never replaces the response of one that already ran
upstream; HTTP/1.0 rules (issue 9, class 5)."""

from __future__ import annotations

import asyncio
import socket

from conftest import Stack
from http_wire import exchange, parse_replies, read_all, wait_until
from upstream_double import Received, echo


def test_a_malformed_request_after_one_in_flight_is_refused_only_after_that_ones_response(stack: Stack) -> None:
    release = asyncio.Event()

    async def slow(req: Received, writer: asyncio.StreamWriter) -> None:
        await release.wait()
        await echo(req, writer)

    stack.monolith.handler = slow
    with socket.create_connection(("127.0.0.1", stack.port), timeout=5) as sock:
        sock.sendall(b"POST /first HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nokGET /second HTTP/1.1\r\n\r\n")
        wait_until(lambda: stack.monolith.heads == [b"/first"], what="the first request upstream")
        stack.lt.call(release.set)
        data, closed = read_all(sock)
    replies, rest = parse_replies(data)
    assert [r.status for r in replies] == [200, 400] and rest == b"" and closed
    assert b'"/first"' in replies[0].body and not replies[0].closes
    assert replies[1].closes and b'"producer":"strangler-proxy"' in replies[1].body
    assert [r.target for r in stack.monolith.received] == [b"/first"]


def test_a_bad_chunk_in_a_later_request_does_not_cost_the_earlier_responses(stack: Stack) -> None:
    reply, closed = exchange(
        stack.port,
        b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"
        b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    )
    replies, rest = parse_replies(reply)
    assert [r.status for r in replies] == [200, 200, 400] and rest == b"" and closed
    assert [r.target for r in stack.monolith.received] == [b"/a", b"/b"]


def test_pipelined_responses_come_in_order_whatever_each_upstream_takes(stack: Stack) -> None:
    async def slow_first(req: Received, writer: asyncio.StreamWriter) -> None:
        if req.target == b"/1":
            await asyncio.sleep(0.2)
        await echo(req, writer)

    stack.monolith.handler = slow_first
    requests = b"".join(b"GET /%d HTTP/1.1\r\nHost: h\r\n\r\n" % i for i in range(1, 6))
    reply, _ = exchange(stack.port, requests + b"GET /6 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    replies, rest = parse_replies(reply)
    assert [r.body.split(b'"target": "')[1].split(b'"')[0] for r in replies] == [b"/%d" % i for i in range(1, 7)]
    assert rest == b""


def test_nothing_after_a_request_that_closes_the_connection_is_forwarded(stack: Stack) -> None:
    reply, closed = exchange(
        stack.port,
        b"GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx",
    )
    replies, _ = parse_replies(reply)
    assert [r.status for r in replies] == [200] and closed
    assert [r.target for r in stack.monolith.received] == [b"/a"]


def test_close_wins_over_keep_alive_in_http_1_0(stack: Stack) -> None:
    # found by the fuzzer: llhttp lets keep-alive win in HTTP/1.0; RFC 9112 §9.3 says close wins
    reply, closed = exchange(
        stack.port,
        b"GET /a HTTP/1.0\r\nConnection: close, keep-alive\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n",
    )
    (only,), _ = parse_replies(reply)
    assert only.closes and closed
    assert [r.target for r in stack.monolith.received] == [b"/a"]


def test_transfer_encoding_in_an_http_1_0_request_is_refused(stack: Stack) -> None:
    reply, closed = exchange(stack.port, b"POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    assert parse_replies(reply)[0][0].status == 400 and closed
    assert stack.monolith.received == []


def test_an_http_1_0_request_is_answered_and_closed_unless_it_asks_for_keep_alive(stack: Stack) -> None:
    reply, closed = exchange(stack.port, b"GET /once HTTP/1.0\r\n\r\nGET /never HTTP/1.0\r\n\r\n")
    (only,), _ = parse_replies(reply)
    assert only.status == 200 and only.closes and closed

    reply, closed = exchange(
        stack.port, b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n", timeout=5
    )
    first, second = parse_replies(reply)[0]
    assert first.header("connection") == b"keep-alive" and second.closes and closed
    assert [r.target for r in stack.monolith.received] == [b"/once", b"/a", b"/b"]
