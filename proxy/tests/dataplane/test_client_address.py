"""Who the client is, and loops: `Forwarded` and `X-Real-IP` are believed only from trusted proxies, exactly like
`X-Forwarded-For` (issue 9, class 9); a request whose `Via` already names this proxy is answered 508, never
forwarded (class 8)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from conftest import LoopThread, Stack, start_stack, stop_stack
from strangler_proxy.dataplane.settings import ProxySettings, parse_networks


def get(stack: Stack, extra: bytes) -> bytes:
    return stack.raw(b"GET /x HTTP/1.1\r\nHost: shop.test\r\n" + extra + b"Connection: close\r\n\r\n")


def test_forwarded_and_x_real_ip_from_an_untrusted_client_are_replaced_by_what_the_proxy_saw(stack: Stack) -> None:
    get(stack, b"Forwarded: for=6.6.6.6;proto=https\r\nX-Real-IP: 6.6.6.6\r\nForwarded: for=7.7.7.7\r\n")
    (received,) = stack.monolith.received
    assert received.header("Forwarded") == b'for=127.0.0.1;host="shop.test";proto=http'
    assert received.header("X-Real-IP") == b"127.0.0.1"
    assert received.header_names().count("forwarded") == 1


def test_the_proxy_adds_no_forwarded_or_x_real_ip_of_its_own(stack: Stack) -> None:
    get(stack, b"")
    (received,) = stack.monolith.received
    assert received.header("Forwarded") is None and received.header("X-Real-IP") is None


@pytest.fixture
def behind_balancer(loop_thread: LoopThread) -> Iterator[Stack]:
    s = start_stack(loop_thread, settings=ProxySettings(trusted_proxies=parse_networks("127.0.0.0/8")))
    yield s
    stop_stack(s)


def test_forwarded_and_x_real_ip_from_a_trusted_proxy_are_extended_and_kept(behind_balancer: Stack) -> None:
    get(behind_balancer, b"Forwarded: for=6.6.6.6;proto=https\r\nX-Real-IP: 6.6.6.6\r\n")
    (received,) = behind_balancer.monolith.received
    assert received.header("Forwarded") == b'for=6.6.6.6;proto=https, for=127.0.0.1;host="shop.test";proto=http'
    assert received.header("X-Real-IP") == b"6.6.6.6"


def test_a_request_that_already_passed_through_this_proxy_is_answered_508(stack: Stack) -> None:
    reply = get(stack, b"Via: 1.1 edge, 1.1 Strangler (its own)\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 508")
    assert json.loads(body)["error"] == "loop_detected"
    assert stack.monolith.received == []


def test_another_proxys_via_passes_and_is_extended(stack: Stack) -> None:
    get(stack, b"Via: 1.1 strangler-edge, HTTP/1.0 stranglers\r\n")
    (received,) = stack.monolith.received
    assert received.header("Via") == b"1.1 strangler-edge, HTTP/1.0 stranglers, 1.1 strangler"
