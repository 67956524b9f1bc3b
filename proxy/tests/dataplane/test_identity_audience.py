"""Issue 9, class 10: the identity the proxy signs names the upstream it is for, and a service gets the client's
monolith credentials only on a route that opts in (docs/identity.md §2). Through the real proxy, to the upstream
doubles: what each upstream receives."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator

import pytest
from conftest import LoopThread, Stack, start_stack, stop_stack
from strangler_proxy.dataplane.identity import IdentitySigner
from strangler_proxy.dataplane.model import Route, Stage
from upstream_double import Received, echo, respond

KEY = "a-key-for-these-tests-only-0123456789"
TOKEN = {"Authorization": "Token good", "Cookie": "sessionid=abc; csrftoken=def"}


async def identity_provider(req: Received, writer: asyncio.StreamWriter) -> None:
    if not req.target.startswith(b"/internal/identity/"):
        await echo(req, writer)
    elif req.header("Authorization") == b"Token good":
        await respond(writer, 200, None, b'{"user": {"id": 1, "username": "alice", "is_staff": false}}')
    else:
        await respond(writer, 401, None, b'{"detail": "Invalid token."}')


def claims_of(header: bytes) -> dict[str, object]:
    version, payload, _ = header.split(b".")
    assert version == b"v2"
    return dict(json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4))))


def identified(lt: LoopThread, *routes: Route) -> Stack:
    s = start_stack(lt, routes, identity=IdentitySigner(KEY))
    s.monolith.handler = identity_provider
    return s


@pytest.fixture
def live(loop_thread: LoopThread) -> Iterator[Stack]:
    s = identified(loop_thread, Route("/api/catalog", "catalog", Stage.LIVE))
    yield s
    stop_stack(s)


def test_the_identity_names_the_service_it_was_minted_for_and_lives_thirty_seconds(live: Stack) -> None:
    assert live.request("GET", "/api/catalog/x", headers=TOKEN)[0] == 200
    (seen,) = live.catalog.received
    identity = seen.header("x-strangler-identity")
    assert identity is not None
    claims = claims_of(identity)
    assert claims["aud"] == "catalog" and claims["sub"] == 1
    assert claims["exp"] == claims["iat"] + 30  # type: ignore[operator]


def test_a_service_never_gets_the_clients_monolith_credentials_by_default(live: Stack) -> None:
    assert live.request("POST", "/api/catalog/x", body=b"{}", headers=TOKEN)[0] == 200
    (seen,) = live.catalog.received
    names = seen.header_names()
    assert "authorization" not in names and "cookie" not in names
    assert seen.header("x-strangler-credentials") == b"token, cookie"
    assert b"good" not in b"".join(v for _, v in seen.headers) and b"sessionid" not in b"".join(
        v for _, v in seen.headers
    )


def test_a_route_that_opts_in_forwards_them(loop_thread: LoopThread) -> None:
    s = identified(loop_thread, Route("/api/inventory", "catalog", Stage.LIVE, forward_credentials=True))
    try:
        assert s.request("GET", "/api/inventory/x", headers=TOKEN)[0] == 200
        (seen,) = s.catalog.received
        assert seen.header("authorization") == b"Token good" and seen.header("cookie") == TOKEN["Cookie"].encode()
        assert seen.header("x-strangler-credentials") is None
        assert claims_of(seen.header("x-strangler-identity") or b"")["aud"] == "catalog"
    finally:
        stop_stack(s)


def test_a_fallback_to_the_monolith_carries_the_clients_credentials_and_no_identity(live: Stack) -> None:
    live.lt.run(live.catalog.stop())  # the service is down: a safe request on a live route falls back
    status, _, _ = live.request("GET", "/api/catalog/x", headers=TOKEN)
    assert status == 200
    served = [r for r in live.monolith.received if not r.target.startswith(b"/internal/")]
    (seen,) = served
    assert seen.header("authorization") == b"Token good" and seen.header("cookie") is not None
    assert seen.header("x-strangler-identity") is None and seen.header("x-strangler-credentials") is None
