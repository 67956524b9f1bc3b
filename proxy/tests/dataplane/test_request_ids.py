"""Every answer names its request: `X-Request-Id` (the client's when valid, else a new one) on proxied answers and on
the proxy's own errors, the same id the upstream and the access log saw; a route may opt in to naming the upstream
that answered (`X-Strangler-Upstream`), for debugging."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from conftest import Stack
from strangler_proxy.dataplane.access_log import configure_access_log, logger
from strangler_proxy.dataplane.model import Route, Stage
from upstream_double import respond


@pytest.fixture
def access_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_access_log(stream)
    yield stream
    logger.removeHandler(handler)
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


def logged_ids(stream: io.StringIO) -> list[str]:
    return [json.loads(line)["request_id"] for line in stream.getvalue().splitlines()]


def test_a_proxied_answer_carries_the_clients_request_id_or_a_new_one(stack: Stack, access_lines: io.StringIO) -> None:
    _, given, _ = stack.request("GET", "/x", headers={"X-Request-Id": "req-123"})
    _, made, _ = stack.request("GET", "/y")
    _, replaced, _ = stack.request("GET", "/z", headers={"X-Request-Id": "two words"})
    assert given["x-request-id"] == "req-123"
    assert re.fullmatch(r"[0-9a-f]{32}", made["x-request-id"])
    assert re.fullmatch(r"[0-9a-f]{32}", replaced["x-request-id"]) and replaced["x-request-id"] != made["x-request-id"]
    upstream_saw = [r.header("X-Request-Id") for r in stack.monolith.received]
    assert upstream_saw == [h["x-request-id"].encode() for h in (given, made, replaced)]
    assert logged_ids(access_lines) == [h["x-request-id"] for h in (given, made, replaced)]


def test_an_upstreams_own_request_id_header_never_doubles_or_replaces_the_proxys(stack: Stack) -> None:
    async def handler(req, writer) -> None:  # type: ignore[no-untyped-def]
        await respond(writer, 200, [(b"X-Request-Id", b"the-upstream-made-this-up")], b"ok")

    stack.monolith.handler = handler
    conn_headers = stack.raw(b"GET /x HTTP/1.1\r\nHost: h\r\nX-Request-Id: mine\r\nConnection: close\r\n\r\n")
    head = conn_headers.partition(b"\r\n\r\n")[0].lower()
    assert head.count(b"x-request-id:") == 1 and b"x-request-id: mine" in head


def test_the_proxys_own_errors_carry_the_request_id_of_their_body(stack: Stack, access_lines: io.StringIO) -> None:
    status, headers, body = stack.request("GET", "/a%2fb", headers={"X-Request-Id": "bad-path-1"})
    assert status == 400 and headers["x-request-id"] == "bad-path-1" == json.loads(body)["request_id"]
    stack.lt.run(stack.monolith.stop())
    status, headers, body = stack.request("GET", "/x")
    assert status == 502 and headers["x-request-id"] == json.loads(body)["request_id"]
    assert logged_ids(access_lines) == ["bad-path-1", headers["x-request-id"]]


def test_a_route_can_opt_in_to_name_the_upstream_that_answered(stack: Stack) -> None:
    stack.set_routes(
        Route("/api/catalog", "catalog", Stage.LIVE, upstream_header=True),
        Route("/api/orders", "catalog", Stage.LIVE),
    )
    _, named, _ = stack.request("GET", "/api/catalog/1")
    _, silent, _ = stack.request("GET", "/api/orders/1")
    assert named["x-strangler-upstream"] == "catalog"
    assert "x-strangler-upstream" not in silent

    async def broken(req, writer) -> None:  # type: ignore[no-untyped-def]
        writer.close()

    stack.catalog.handler = broken
    _, fell_back, _ = stack.request("GET", "/api/catalog/1")  # a safe request falls back to the monolith
    assert fell_back["x-strangler-upstream"] == "monolith" and stack.monolith.received
