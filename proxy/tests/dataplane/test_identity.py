"""Forward auth and the signed identity: the signer agrees with docs/identity.md, and ForwardAuth asks the
monolith only what it must, caches by a digest, passes refusals on and fails closed.

The monolith here is a small aiohttp server that answers like /internal/identity/ (the real one is exercised
end to end in e2e/)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDict
from strangler_proxy.control.settings import Settings
from strangler_proxy.dataplane.identity import (
    IDENTITY_HEADER,
    ForwardAuth,
    IdentitySigner,
    Refusal,
    User,
    with_identity,
)
from strangler_proxy.errors import ForwardAuthUnavailable, SettingsInvalid

CONTRACT = Path(__file__).resolve().parents[3] / "docs" / "identity.md"
KEY = "a-key-for-these-tests-only-0123456789"
CHARLIE = User(id=3, username="charlie", is_staff=True)
TARGET = b"/api/catalog/products/?page=2"
TOKENS = {
    "Token alice-token": {"id": 1, "username": "alice", "is_staff": False, "customer": 11},
    "Token charlie-token": {
        "id": 3,
        "username": "charlie",
        "is_staff": True,
    },
}
INVALID = json.dumps(
    {"error": {"status": 401, "code": "authentication_failed", "message": "Invalid token.", "fields": {}}}
).encode()


def test_the_signer_produces_the_shared_test_vector_of_the_contract():
    text = CONTRACT.read_text()
    key = re.search(r"^key:\s+(\S+)$", text, re.M).group(1)
    payload = json.loads(re.search(r"^payload:\s+(\{.*\})$", text, re.M).group(1))
    header = re.search(r"^header:\s+(\S+)$", text, re.M).group(1)
    signer = IdentitySigner(key, lifetime=payload["exp"] - payload["iat"], clock=lambda: payload["iat"] + 0.9)

    user = User(id=payload["sub"], username=payload["username"], is_staff=payload["staff"])

    assert signer.sign(user, audience=payload["aud"]).decode() == header


def test_a_signed_identity_names_its_audience_and_expires_thirty_seconds_after_it_is_issued():
    signed = IdentitySigner(KEY, clock=lambda: 1_000.0).sign(CHARLIE, audience="catalog")
    payload = signed.split(b".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))

    assert signed.startswith(b"v2.")
    assert claims == {"aud": "catalog", "sub": 3, "username": "charlie", "staff": True, "iat": 1000, "exp": 1030}


def test_a_customer_is_signed_as_its_own_claim_and_a_user_without_one_carries_none():
    signer = IdentitySigner(KEY, clock=lambda: 1_000.0)

    def claims_of(user: User) -> dict:
        payload = signer.sign(user, audience="reviews").split(b".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))

    assert claims_of(User(id=1, username="alice", is_staff=False, customer=11))["customer"] == 11
    assert "customer" not in claims_of(CHARLIE)


def test_the_monolith_s_customer_reaches_the_signer_and_an_older_monolith_names_none():
    async def check(monolith: Monolith) -> None:
        auth = auth_for(monolith)
        try:
            alice = await auth.resolve("POST", TARGET, request("Token alice-token"))
            charlie = await auth.resolve("POST", TARGET, request("Token charlie-token"))
        finally:
            await auth.close()
        assert alice == User(id=1, username="alice", is_staff=False, customer=11)
        assert charlie == CHARLIE and charlie.customer is None

    served(check)


def test_a_lifetime_over_thirty_seconds_is_refused():
    with pytest.raises(SettingsInvalid, match=r"0\.\.30"):
        IdentitySigner(KEY, lifetime=31)


def test_a_short_key_is_refused_naming_the_variable():
    with pytest.raises(SettingsInvalid, match="STRANGLER_IDENTITY_KEY must be at least 32"):
        IdentitySigner("k" * 31)


def test_a_missing_key_is_refused_naming_the_variable():
    with pytest.raises(SettingsInvalid, match="STRANGLER_IDENTITY_KEY is not set"):
        Settings.load({"STRANGLER_ADMIN_TOKEN": "t" * 32})


def test_with_identity_replaces_a_client_sent_identity_and_adds_none_for_anonymous():
    signer = IdentitySigner(KEY)
    headers = [(b"host", b"shop"), (b"X-Strangler-Identity", b"v1.forged.forged")]

    anonymous = with_identity(headers, signer, None, audience="catalog")
    charlie = with_identity(headers, signer, CHARLIE, audience="catalog")

    assert anonymous == [(b"host", b"shop")]
    assert charlie[:1] == [(b"host", b"shop")]
    assert [n for n, _ in charlie] == [b"host", IDENTITY_HEADER]
    assert charlie[1][1].startswith(b"v2.") and charlie[1][1] != b"v1.forged.forged"


def test_with_identity_withholds_the_clients_credentials_unless_the_route_forwards_them():
    signer = IdentitySigner(KEY)
    headers = [
        (b"host", b"shop"),
        (b"authorization", b"Token charlie-token"),
        (b"cookie", b"sessionid=abc"),
        (b"x-strangler-credentials", b"forged"),
    ]

    withheld = with_identity(headers, signer, CHARLIE, audience="catalog")
    forwarded = with_identity(headers, signer, CHARLIE, audience="inventory", forward_credentials=True)

    assert [(n, v) for n, v in withheld if n != IDENTITY_HEADER] == [
        (b"host", b"shop"),
        (b"x-strangler-credentials", b"token, cookie"),
    ]
    assert [(n, v) for n, v in forwarded if n != IDENTITY_HEADER] == headers[:3]
    bearer = with_identity([(b"authorization", b"Bearer x")], signer, None, audience="catalog")
    assert bearer == [(b"x-strangler-credentials", b"authorization")]


class Monolith:
    """Answers like /internal/identity/ and records what it was asked."""

    def __init__(self) -> None:
        self.seen: list[CIMultiDict[str]] = []
        self.status_override: int | None = None
        self.body_override: bytes | None = None
        self.delay = 0.0
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(CIMultiDict(request.headers))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.status_override is not None:
            return web.Response(status=self.status_override, body=self.body_override or b"oops")
        if self.body_override is not None:
            return web.Response(body=self.body_override, content_type="application/json")
        authorization = request.headers.get("Authorization")
        if authorization is None:
            return web.json_response({"user": None}, headers={"Set-Cookie": "csrftoken=fresh; Path=/"})
        if authorization not in TOKENS:
            return web.Response(
                status=401,
                body=INVALID,
                content_type="application/json",
                headers={"WWW-Authenticate": "Token", "Allow": "GET", "Set-Cookie": "sessionid=leak; Path=/"},
            )
        return web.json_response({"user": TOKENS[authorization]})


def served(test: Callable[[Monolith], Awaitable[None]]) -> None:
    async def main() -> None:
        monolith = Monolith()
        app = web.Application()
        app.router.add_get("/internal/identity/", monolith.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        monolith.url = f"http://127.0.0.1:{port}"
        try:
            await test(monolith)
        finally:
            await runner.cleanup()

    asyncio.run(main())


def request(authorization: str | None = None, **more: str) -> list[tuple[bytes, bytes]]:
    headers = [(b"host", b"shop.example"), (b"x-forwarded-proto", b"https"), (b"content-type", b"application/json")]
    if authorization is not None:
        headers.append((b"authorization", authorization.encode()))
    headers += [(name.replace("_", "-").encode(), value.encode()) for name, value in more.items()]
    return headers


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def auth_for(monolith: Monolith, **options: Any) -> ForwardAuth:
    return ForwardAuth(monolith.url, **options)


def test_a_request_without_credentials_is_anonymous_without_asking_the_monolith():
    async def check(monolith: Monolith) -> None:
        auth = auth_for(monolith)
        try:
            assert await auth.resolve("POST", TARGET, request()) is None
        finally:
            await auth.close()
        assert monolith.seen == []

    served(check)


def test_a_token_is_resolved_to_its_user_with_the_original_method_and_host():
    async def check(monolith: Monolith) -> None:
        auth = auth_for(monolith)
        try:
            answer = await auth.resolve("PATCH", TARGET, request("Token charlie-token", x_request_id="r-1"))
        finally:
            await auth.close()
        assert answer == CHARLIE
        [seen] = monolith.seen
        assert seen["Authorization"] == "Token charlie-token"
        assert seen["X-Original-Method"] == "PATCH"
        assert seen["Host"] == "shop.example"
        assert seen["X-Forwarded-Proto"] == "https"
        assert seen["X-Request-Id"] == "r-1"
        assert seen["X-Original-URI"] == TARGET.decode()
        assert "Content-Type" not in seen and "User-Agent" not in seen

    served(check)


def test_answers_are_cached_per_credentials_and_safety_until_they_expire():
    async def check(monolith: Monolith) -> None:
        clock = Clock()
        auth = auth_for(monolith, cache_seconds=5.0, clock=clock)
        try:
            await auth.resolve("GET", TARGET, request("Token alice-token"))
            await auth.resolve("HEAD", TARGET, request("Token alice-token"))
            assert len(monolith.seen) == 1
            await auth.resolve("POST", TARGET, request("Token alice-token"))  # CSRF may decide differently
            await auth.resolve("GET", TARGET, request("Token charlie-token"))
            assert len(monolith.seen) == 3
            clock.now += 5.1
            assert await auth.resolve("GET", TARGET, request("Token alice-token")) == User(1, "alice", False, 11)
            assert len(monolith.seen) == 4
        finally:
            await auth.close()

    served(check)


def test_safe_requests_from_different_pages_share_an_answer_but_unsafe_ones_do_not():
    async def check(monolith: Monolith) -> None:
        auth = auth_for(monolith)
        try:
            for page in ("/a", "/b"):
                await auth.resolve("GET", TARGET, request("Token alice-token", referer=f"https://shop.example{page}"))
            assert len(monolith.seen) == 1
            for page in ("/a", "/b"):
                await auth.resolve("POST", TARGET, request("Token alice-token", referer=f"https://shop.example{page}"))
            assert len(monolith.seen) == 3
        finally:
            await auth.close()

    served(check)


def test_refusals_are_asked_for_each_time_because_they_name_the_endpoints_methods():
    async def check(monolith: Monolith) -> None:
        auth = auth_for(monolith)
        try:
            for path in (b"/api/catalog/products/", b"/api/catalog/products/", b"/api/catalog/products/1/"):
                assert isinstance(await auth.resolve("GET", path, request("Token stolen")), Refusal)
        finally:
            await auth.close()
        assert [seen["X-Original-URI"] for seen in monolith.seen] == [
            "/api/catalog/products/",
            "/api/catalog/products/",
            "/api/catalog/products/1/",
        ]

    served(check)


def test_the_cache_keeps_no_credential_in_clear():
    async def check(monolith: Monolith) -> None:
        auth = auth_for(monolith)
        try:
            await auth.resolve("GET", TARGET, request("Token charlie-token", cookie="sessionid=s3cret"))
        finally:
            await auth.close()
        stored = repr(auth._cache)
        assert "charlie-token" not in stored and "s3cret" not in stored
        assert all(len(key) == 32 for key in auth._cache)

    served(check)


def test_concurrent_requests_with_the_same_credentials_ask_once():
    async def check(monolith: Monolith) -> None:
        monolith.delay = 0.2
        auth = auth_for(monolith)
        try:
            answers = await asyncio.gather(
                *(auth.resolve("GET", TARGET, request("Token alice-token")) for _ in range(10))
            )
        finally:
            await auth.close()
        assert set(answers) == {User(1, "alice", False, 11)}
        assert len(monolith.seen) == 1

    served(check)


def test_a_refusal_is_passed_on_with_its_status_body_and_challenge_only():
    async def check(monolith: Monolith) -> None:
        auth = auth_for(monolith)
        try:
            answer = await auth.resolve("GET", TARGET, request("Token stolen"))
        finally:
            await auth.close()
        assert isinstance(answer, Refusal)
        assert answer.status == 401
        assert answer.body == INVALID
        assert dict(answer.headers) == {
            b"content-type": b"application/json",
            b"www-authenticate": b"Token",
            b"allow": b"GET",
        }

    served(check)


def test_a_cookie_set_by_one_answer_is_never_sent_with_another_clients_question():
    async def check(monolith: Monolith) -> None:
        auth = auth_for(monolith, cache_seconds=0)
        try:
            await auth.resolve("GET", TARGET, request(cookie="csrftoken=abc"))
            await auth.resolve("GET", TARGET, request("Token stolen"))
            await auth.resolve("GET", TARGET, request("Token alice-token"))
        finally:
            await auth.close()
        assert [seen.get("Cookie") for seen in monolith.seen] == ["csrftoken=abc", None, None]

    served(check)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b"oops"),
        (404, b"{}"),
        (200, b"not json"),
        (200, b'{"user": {"id": "3"}}'),
        (200, b"[]"),
        (200, b'{"user": {"id": 3, "username": "charlie", "is_staff": true, "customer": "7"}}'),
    ],
)
def test_an_answer_outside_the_contract_fails_closed(status, body):
    async def check(monolith: Monolith) -> None:
        if status == 200:
            monolith.body_override = body
        else:
            monolith.status_override, monolith.body_override = status, body
        auth = auth_for(monolith)
        try:
            with pytest.raises(ForwardAuthUnavailable) as raised:
                await auth.resolve("GET", TARGET, request("Token alice-token"))
        finally:
            await auth.close()
        assert raised.value.status == 503

    served(check)


def test_an_unreachable_monolith_fails_closed():
    async def check(monolith: Monolith) -> None:
        auth = ForwardAuth("http://127.0.0.1:9", timeout=1.0)
        try:
            with pytest.raises(ForwardAuthUnavailable):
                await auth.resolve("GET", TARGET, request("Token alice-token"))
        finally:
            await auth.close()

    served(check)


def test_a_slow_monolith_fails_closed_after_the_timeout():
    async def check(monolith: Monolith) -> None:
        monolith.delay = 1.0
        auth = auth_for(monolith, timeout=0.2)
        try:
            with pytest.raises(ForwardAuthUnavailable):
                await auth.resolve("GET", TARGET, request("Token alice-token"))
        finally:
            await auth.close()

    served(check)
