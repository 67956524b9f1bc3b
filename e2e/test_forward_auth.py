"""The proxy's resolver against the real monolith: `ForwardAuth` names the user behind each persona's
credentials, and for credentials the API refuses it returns the API's own answer — the contract of
docs/identity.md, checked between the two real sides without the data plane in the way."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from strangler_proxy.dataplane.identity import ForwardAuth, Refusal, User

from databases import sql
from parity import COMPARED_HEADERS, PUBLIC_HOST, answer_of

PRODUCTS = "/api/catalog/products/"
CSRF = "d" * 32


def resolve(monolith_url: str, method: str, headers: dict[str, str]) -> User | Refusal | None:
    async def ask() -> User | Refusal | None:
        auth = ForwardAuth(monolith_url)
        try:
            wire = [(b"host", PUBLIC_HOST.encode())] + [(k.lower().encode(), v.encode()) for k, v in headers.items()]
            return await auth.resolve(method, PRODUCTS.encode(), wire)
        finally:
            await auth.close()

    return asyncio.run(ask())


def customer_of(stack, user_id: int) -> int | None:
    """The user's customer profile in the monolith's database, as the test finds it (another test may have made
    one, as a customer feature does); None when they have none."""
    found = sql(stack.monolith_database, "SELECT id FROM customers_customer WHERE user_id = %s", (user_id,))
    return int(found[0][0]) if found else None


def api_answer(monolith_url: str, method: str, headers: dict[str, str]):
    with httpx.Client(base_url=monolith_url, headers={"Host": PUBLIC_HOST}, timeout=10) as client:
        return answer_of(client.request(method, PRODUCTS, headers=headers, json={} if method == "POST" else None))


@pytest.mark.parametrize("name", ["alice", "bob", "charlie"])
def test_a_token_resolves_to_its_monolith_user(stack, name):
    persona = stack.shop.personas[name]
    token = {"Authorization": f"Token {persona.token}"}
    before = customer_of(stack, persona.id)

    read = resolve(stack.monolith.url, "GET", token)

    assert read == User(id=persona.id, username=name, is_staff=persona.is_staff, customer=before)
    assert customer_of(stack, persona.id) == before  # a read made no profile

    write = resolve(stack.monolith.url, "POST", token)
    made = customer_of(stack, persona.id)  # a write has one: the one the user had, or the one made on first use

    assert made is not None and before in (None, made)
    assert write == User(id=persona.id, username=name, is_staff=persona.is_staff, customer=made)
    assert resolve(stack.monolith.url, "GET", token) == write


def test_a_session_resolves_for_reads_and_for_writes_with_its_csrf_token(stack):
    charlie = stack.shop.personas["charlie"]
    cookie = f"sessionid={charlie.session}; csrftoken={CSRF}"
    read = resolve(stack.monolith.url, "GET", {"Cookie": cookie})

    assert read == User(id=charlie.id, username="charlie", is_staff=True, customer=customer_of(stack, charlie.id))
    write = resolve(stack.monolith.url, "POST", {"Cookie": cookie, "X-CSRFToken": CSRF})
    assert write == User(id=charlie.id, username="charlie", is_staff=True, customer=customer_of(stack, charlie.id))
    assert write.customer is not None


def test_a_cookie_without_a_session_is_anonymous(stack):
    assert resolve(stack.monolith.url, "POST", {"Cookie": f"csrftoken={CSRF}"}) is None


@pytest.mark.parametrize(
    ("method", "credentials"),
    [
        ("GET", {"Authorization": "Token not-a-real-token"}),
        ("POST", {"Authorization": "Token"}),
        ("POST", {"Authorization": "Token a b"}),
        ("POST", "bob's session without a CSRF token"),
        ("DELETE", "bob's session with a wrong CSRF token"),
    ],
)
def test_a_refusal_is_the_apis_own_answer(stack, method, credentials):
    bob = stack.shop.personas["bob"]
    if credentials == "bob's session without a CSRF token":
        credentials = {"Cookie": f"sessionid={bob.session}"}
    elif credentials == "bob's session with a wrong CSRF token":
        credentials = {"Cookie": f"sessionid={bob.session}; csrftoken={CSRF}", "X-CSRFToken": "e" * 32}

    refusal = resolve(stack.monolith.url, method, credentials)
    api = api_answer(stack.monolith.url, method, credentials)

    assert isinstance(refusal, Refusal)
    headers = {name.decode(): value.decode() for name, value in refusal.headers}
    assert refusal.status == api.status
    assert refusal.body == api.raw
    assert {k: v for k, v in headers.items() if k in COMPARED_HEADERS} == api.headers
