from __future__ import annotations

import asyncio
import gzip
import re
from collections.abc import Iterator

import pytest
from conftest import LoopThread, Stack, start_stack, stop_stack
from strangler_proxy.dataplane.settings import ProxySettings, parse_networks
from upstream_double import Received, respond


def get(stack: Stack, extra: bytes = b"", target: bytes = b"/x") -> bytes:
    return stack.raw(b"GET " + target + b" HTTP/1.1\r\nHost: shop.test\r\n" + extra + b"Connection: close\r\n\r\n")


def test_it_removes_hop_by_hop_headers_and_those_named_in_connection_from_requests(stack: Stack) -> None:
    get(
        stack,
        b"Connection: keep-alive, X-Drop-Me\r\nX-Drop-Me: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
        b"Upgrade: h2c\r\nProxy-Authorization: Basic eA==\r\nProxy-Connection: keep-alive\r\nX-Keep-Me: 1\r\n",
    )
    (received,) = stack.monolith.received
    names = received.header_names()
    dropped = {"connection", "x-drop-me", "keep-alive", "te", "upgrade", "proxy-authorization", "proxy-connection"}
    assert not dropped & set(names)
    assert received.header("X-Keep-Me") == b"1"


def test_it_removes_hop_by_hop_headers_and_those_named_in_connection_from_responses(stack: Stack) -> None:
    async def handler(req: Received, writer: asyncio.StreamWriter) -> None:
        await respond(
            writer,
            200,
            [
                (b"Connection", b"X-Secret"),
                (b"X-Secret", b"1"),
                (b"Keep-Alive", b"timeout=5"),
                (b"Proxy-Authenticate", b"Basic"),
                (b"Upgrade", b"h2c"),
                (b"X-Other", b"2"),
            ],
            b"ok",
        )

    stack.monolith.handler = handler
    status, headers, body = stack.request("GET", "/x")
    assert (status, body) == (200, b"ok")
    assert set(headers) == {"x-other", "content-length", "x-request-id"}


def test_it_invents_no_headers_in_either_direction_but_the_request_id(stack: Stack) -> None:
    reply = get(stack, b"X-Custom: a\r\n")
    (received,) = stack.monolith.received
    assert sorted(received.header_names()) == sorted(
        ["host", "x-custom", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "via", "x-request-id"]
    )
    head = reply.partition(b"\r\n\r\n")[0].lower().split(b"\r\n")[1:]
    assert sorted(h.split(b":")[0] for h in head) == [
        b"connection",
        b"content-length",
        b"content-type",
        b"x-request-id",
    ]


def test_client_sent_forwarding_headers_are_replaced_when_the_peer_is_not_trusted(stack: Stack) -> None:
    get(
        stack,
        b"X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.test\r\nVia: 1.0 lb\r\n",
    )
    (received,) = stack.monolith.received
    assert received.header("X-Forwarded-For") == b"127.0.0.1"
    assert received.header("X-Forwarded-Proto") == b"http"
    assert received.header("X-Forwarded-Host") == b"shop.test"
    assert received.header("Via") == b"1.0 lb, 1.1 strangler"
    assert received.header("Host") == b"shop.test"


@pytest.fixture
def behind_balancer(loop_thread: LoopThread) -> Iterator[Stack]:
    s = start_stack(loop_thread, settings=ProxySettings(trusted_proxies=parse_networks("127.0.0.0/8, 10.0.0.0/8")))
    yield s
    stop_stack(s)


def test_client_sent_forwarding_headers_are_extended_when_the_peer_is_a_trusted_proxy(behind_balancer: Stack) -> None:
    get(
        behind_balancer,
        b"X-Forwarded-For: 6.6.6.6, 10.0.0.2\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.example\r\n",
    )
    (received,) = behind_balancer.monolith.received
    assert received.header("X-Forwarded-For") == b"6.6.6.6, 10.0.0.2, 127.0.0.1"
    assert received.header("X-Forwarded-Proto") == b"https"
    assert received.header("X-Forwarded-Host") == b"shop.example"


def test_internal_control_headers_from_clients_are_stripped(stack: Stack) -> None:
    get(stack, b"X-Strangler-Identity: admin\r\nX-Strangler-Shadow: 1\r\nx-strangler-anything: y\r\n")
    (received,) = stack.monolith.received
    assert not [n for n in received.header_names() if n.startswith("x-strangler-")]


def test_request_id_and_traceparent_are_propagated(stack: Stack) -> None:
    trace = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    get(stack, b"X-Request-Id: req-123\r\ntraceparent: " + trace + b"\r\ntracestate: a=1\r\n")
    get(stack)
    first, second = stack.monolith.received
    assert first.header("X-Request-Id") == b"req-123"
    assert first.header("traceparent") == trace
    assert first.header("tracestate") == b"a=1"
    generated = second.header("X-Request-Id")
    assert generated is not None and re.fullmatch(rb"[0-9a-f]{32}", generated)


def test_a_request_id_with_spaces_or_of_excessive_length_is_replaced(stack: Stack) -> None:
    get(stack, b"X-Request-Id: a b\r\n")
    get(stack, b"X-Request-Id: " + b"x" * 201 + b"\r\n")
    for received in stack.monolith.received:
        assert re.fullmatch(rb"[0-9a-f]{32}", received.header("X-Request-Id") or b"")
    assert len(stack.monolith.received) == 2


def test_compressed_bodies_pass_untouched_both_ways(stack: Stack) -> None:
    payload = gzip.compress(b'{"a": 1}' * 100)

    async def handler(req: Received, writer: asyncio.StreamWriter) -> None:
        await respond(writer, 200, [(b"Content-Encoding", b"gzip"), (b"Content-Type", b"application/json")], payload)

    stack.monolith.handler = handler
    status, headers, body = stack.request(
        "POST", "/x", body=payload, headers={"Content-Encoding": "gzip", "Accept-Encoding": "gzip"}
    )
    assert status == 200 and body == payload and headers["content-encoding"] == "gzip"
    (received,) = stack.monolith.received
    assert received.body == payload and received.header("Content-Encoding") == b"gzip"
    assert received.header("Accept-Encoding") == b"gzip"


def test_a_body_keeps_its_length_and_a_buffered_chunked_body_goes_up_with_its_length(stack: Stack) -> None:
    stack.raw(b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
    stack.raw(
        b"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n"
    )
    sized, chunked = stack.monolith.received
    assert sized.header("Content-Length") == b"5" and not sized.chunked and sized.body == b"hello"
    assert chunked.header("Content-Length") == b"5" and not chunked.chunked and chunked.body == b"hello"
    assert chunked.header("Transfer-Encoding") is None


def test_a_head_response_keeps_its_length_and_has_no_body(stack: Stack) -> None:
    async def handler(req: Received, writer: asyncio.StreamWriter) -> None:
        body = b"" if req.method == "HEAD" else b"b" * 1234
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nX-A: 1\r\n\r\n" + body)
        await writer.drain()

    stack.monolith.handler = handler
    reply = stack.raw(b"HEAD /x HTTP/1.1\r\nHost: h\r\n\r\nGET /y HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    first, _, rest = reply.partition(b"\r\n\r\n")
    assert b"content-length: 1234" in first.lower()
    assert rest.startswith(b"HTTP/1.1 200")  # nothing between the HEAD response and the next one
    assert rest.endswith(b"\r\n\r\n" + b"b" * 1234)
