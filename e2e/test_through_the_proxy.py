"""The acceptance scenario, through the real proxy: a client holding only monolith credentials gets the same
answers whether /api/catalog is `off` (the monolith answers) or `live` (the catalog service answers, told who the
client is by the identity the proxy resolved at the monolith and signed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from parity import PUBLIC_HOST, Answer, answer_of

PRODUCTS = "/api/catalog/products/"


def scenario(proxy_url: str, stack, served_by: Callable[[str], None]) -> list[tuple[str, Answer]]:
    """What one client sees: staff create, anyone reads, a customer is refused, bad credentials are refused."""
    people = stack.shop.personas
    token = {name: {"Authorization": f"Token {p.token}"} for name, p in people.items()}
    session = {"Cookie": f"sessionid={people['bob'].session}"}
    csrf = "c" * 32  # Django accepts the cookie's secret unmasked in the header
    staff_browser = {"Cookie": f"sessionid={people['charlie'].session}; csrftoken={csrf}", "X-CSRFToken": csrf}
    kettle: dict[str, Any] = {
        "sku": "PROXY-0001",
        "name": "Proxied kettle",
        "slug": "proxied-kettle",
        "price": "31.00",
        "category": stack.shop.categories["kitchen"],
    }
    seen: list[tuple[str, Answer]] = []
    with httpx.Client(base_url=proxy_url, headers={"Host": PUBLIC_HOST}, timeout=10) as client:

        def step(label: str, method: str, path: str, headers: dict[str, str], body: Any = None) -> Answer:
            answer = answer_of(client.request(method, path, headers=headers, json=body))
            seen.append((label, answer.masked()))
            return answer

        created = step("staff create", "POST", PRODUCTS, token["charlie"], kettle)
        item = f"{PRODUCTS}{created.body.get('id', 0)}/"
        served_by(item)
        step("anyone reads it", "GET", item, {})
        step("a customer cannot create", "POST", PRODUCTS, token["alice"], {**kettle, "sku": "PROXY-0002"})
        step("a customer cannot change", "PATCH", item, token["alice"], {"price": "0.01"})
        step("anonymous cannot create", "POST", PRODUCTS, {}, kettle)
        step("a made-up token is refused", "GET", PRODUCTS, {"Authorization": "Token not-a-real-token"})
        step("a malformed token header is refused", "POST", PRODUCTS, {"Authorization": "Token"}, kettle)
        step("a session reads", "GET", PRODUCTS, session)
        step("a session write without CSRF is refused", "POST", PRODUCTS, session, kettle)
        step("staff see inactive products", "GET", PRODUCTS, token["charlie"])
        mug = {**kettle, "sku": "PROXY-0003", "slug": "proxied-mug", "active": False}
        browser_made = step("a staff session write with its CSRF token", "POST", PRODUCTS, staff_browser, mug)
        step(
            "staff delete what the browser made",
            "DELETE",
            f"{PRODUCTS}{browser_made.body.get('id', 0)}/",
            token["charlie"],
        )
        step("a forged identity header is ignored", "GET", item, {"X-Strangler-Identity": "v1.e30.AAAA"})
        step("staff delete it", "DELETE", item, token["charlie"])
        step("it is gone", "GET", item, {})
    return seen


def test_with_the_catalog_live_a_monolith_token_gets_the_monoliths_answers(proxy, stack, monolith, service):
    def only_in(owner, other):
        def check(item: str) -> None:
            assert owner.ask("charlie", "GET", item).status == 200, f"{item} not created in the {owner.name}"
            assert other.ask("charlie", "GET", item).status == 404, f"{item} also created in the {other.name}"

        return check

    proxy.route("off")
    from_the_monolith = scenario(proxy.server.url, stack, served_by=only_in(monolith, service))
    proxy.route("live")
    try:
        from_the_service = scenario(proxy.server.url, stack, served_by=only_in(service, monolith))
    finally:
        proxy.route("off")

    assert [(label, a.status) for label, a in from_the_monolith] == [
        ("staff create", 201),
        ("anyone reads it", 200),
        ("a customer cannot create", 403),
        ("a customer cannot change", 403),
        ("anonymous cannot create", 401),
        ("a made-up token is refused", 401),
        ("a malformed token header is refused", 401),
        ("a session reads", 200),
        ("a session write without CSRF is refused", 403),
        ("staff see inactive products", 200),
        ("a staff session write with its CSRF token", 201),
        ("staff delete what the browser made", 204),
        ("a forged identity header is ignored", 200),
        ("staff delete it", 204),
        ("it is gone", 404),
    ]
    for (label, expected), (_, actual) in zip(from_the_monolith, from_the_service, strict=True):
        assert actual == expected, label
