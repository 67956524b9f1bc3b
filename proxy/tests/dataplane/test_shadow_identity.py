"""A mirror carries the identity the primary path would sign for its service: a signed-in read is compared as that
user, an anonymous one as nobody, and credentials the monolith refuses are never mirrored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import LoopThread, Stack, make_table, stop_stack
from strangler_proxy.dataplane.app import ProxyApp
from strangler_proxy.dataplane.identity import IdentitySigner
from strangler_proxy.dataplane.model import Route, Stage
from strangler_proxy.http.server import ProxyServer, ServerLimits
from upstream_double import Received, Upstream, echo, respond

KEY = "a-key-for-the-shadow-identity-tests-0123456789"
STAFF = {"id": 7, "username": "staff", "is_staff": True}


async def monolith(req: Received, writer: Any) -> None:
    """The shop's monolith: /internal/identity/ answers like the real endpoint (docs/identity.md), the rest echoes."""
    if req.path != b"/internal/identity/":
        await echo(req, writer)
        return
    authorization = req.header("Authorization")
    if authorization == b"Token staff-token":
        await respond(writer, 200, None, json.dumps({"user": STAFF}).encode())
    elif authorization is None:
        await respond(writer, 200, None, b'{"user": null}')
    else:
        body = b'{"error": {"status": 401, "code": "authentication_failed", "message": "Invalid token."}}'
        await respond(writer, 401, [(b"Content-Type", b"application/json"), (b"WWW-Authenticate", b"Token")], body)


@pytest.fixture
def signing_stack(loop_thread: LoopThread) -> Iterator[Stack]:
    async def start() -> Stack:
        mono, catalog = Upstream("monolith", monolith), Upstream("catalog")
        await mono.start()
        await catalog.start()
        table = make_table(mono.url, catalog.url, (Route("/api/catalog", "catalog", Stage.SHADOW),))
        app = ProxyApp(table, identity=IdentitySigner(KEY))
        server = ProxyServer(public_app=app, host="127.0.0.1", port=0, limits=ServerLimits(shutdown_grace=1))
        await server.start()
        return Stack(loop_thread, mono, catalog, app, server)

    stack = loop_thread.run(start())
    yield stack
    stop_stack(stack)


def claims(signed: bytes) -> dict[str, Any]:
    """The payload of a valid v1 identity signed with KEY (docs/identity.md); fails on a bad signature."""
    version, payload, mac = signed.split(b".")
    expected = hmac.new(KEY.encode(), version + b"." + payload, hashlib.sha256).digest()
    assert base64.urlsafe_b64encode(expected).rstrip(b"=") == mac
    return dict(json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4))))


def test_a_signed_in_read_is_mirrored_as_that_user(signing_stack: Stack) -> None:
    status, _, _ = signing_stack.request(
        "GET", "/api/catalog/products/?active=false", headers={"Authorization": "Token staff-token"}
    )
    signing_stack.drain_shadow()
    assert status == 200
    (mirror,) = signing_stack.catalog.received
    assert mirror.header("X-Strangler-Shadow") == b"1"
    identity = mirror.header("X-Strangler-Identity")
    assert identity is not None, mirror.headers
    who = claims(identity)
    assert (who["sub"], who["username"], who["staff"]) == (7, "staff", True)
    primary = next(r for r in signing_stack.monolith.received if r.path == b"/api/catalog/products/")
    assert primary.header("X-Strangler-Identity") is None  # the monolith authenticates its own requests


def test_an_anonymous_read_is_mirrored_without_an_identity(signing_stack: Stack) -> None:
    signing_stack.request("GET", "/api/catalog/products/")
    signing_stack.drain_shadow()
    (mirror,) = signing_stack.catalog.received
    assert mirror.header("X-Strangler-Identity") is None


def test_credentials_the_monolith_refuses_are_never_mirrored(signing_stack: Stack) -> None:
    status, _, _ = signing_stack.request("GET", "/api/catalog/products/", headers={"Authorization": "Token wrong"})
    signing_stack.drain_shadow()
    assert status == 200  # the monolith echo double answered the client; only forward auth refused
    assert signing_stack.catalog.received == []
    metrics = signing_stack.app.metrics_text().decode()
    assert 'strangler_proxy_shadow_total{outcome="skipped_identity_refused",route="/api/catalog"} 1.0' in metrics
