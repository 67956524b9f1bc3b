"""The edges an outside parity corpus probed (issue 18), asked of the monolith and of the service directly, and of
the proxy with /api/catalog `live` (where forward auth judges credentials first): integers no database can hold,
bad credentials on paths no view serves or in a format the endpoint does not speak, writes to unknown paths, and
a browser asking for HTML. Each answer — status, compared headers, body byte for byte — is the monolith's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from parity import Side

PRODUCTS = "/api/catalog/products/"
CATEGORIES = "/api/catalog/categories/"
HUGE = "99999999999999999999"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

# (persona, method, path, query, extra headers); {p[SKU]} stands for the id the seed gave the product.
CASES = [
    # Integers outside the rule: a 400 naming the filter, a 404 for a path id, never a 500.
    ("anon", "GET", PRODUCTS, {"category": HUGE}, {}),
    ("anon", "GET", PRODUCTS, {"in_category": HUGE}, {}),
    ("charlie", "GET", PRODUCTS, {"in_category": "-" + HUGE}, {}),
    ("anon", "GET", CATEGORIES, {"parent": HUGE}, {}),
    ("anon", "GET", PRODUCTS, {"category": "1e3"}, {}),
    ("anon", "GET", PRODUCTS, {"category": "１"}, {}),  # noqa: RUF001  a fullwidth digit one
    ("anon", "GET", PRODUCTS, {"category": " 1"}, {}),
    ("anon", "GET", PRODUCTS, {"category": "9223372036854775808"}, {}),
    ("anon", "GET", PRODUCTS + HUGE + "/", {}, {}),
    ("anon", "GET", CATEGORIES + "9223372036854775808/", {}, {}),
    ("anon", "GET", PRODUCTS + "00{p[TENT-0001]}/", {}, {}),
    ("anon", "GET", PRODUCTS + "{p[TENT-0001]}/", {"category": HUGE}, {}),
    # Bad credentials are judged before the path, the method or the format.
    ("invalid", "GET", "/api/catalog/nope/", {}, {}),
    ("invalid", "POST", "/api/catalog/nope/", {}, {}),
    ("invalid", "DELETE", "/api/catalog/nope/", {}, {}),
    ("invalid", "GET", "/api/catalog/products", {}, {}),
    ("invalid", "GET", PRODUCTS + "abc/", {}, {}),
    ("invalid", "GET", PRODUCTS + HUGE + "/", {}, {}),
    ("invalid", "PUT", PRODUCTS, {}, {}),
    ("invalid", "GET", PRODUCTS, {"format": "api"}, {}),
    ("invalid", "GET", PRODUCTS, {}, {"Accept": "text/html"}),
    ("invalid", "GET", PRODUCTS, {"category": HUGE}, {}),
    # Writes to a path no view serves: the JSON 404, for anyone with valid or no credentials.
    ("anon", "POST", "/api/catalog/nope/", {}, {}),
    ("anon", "PUT", "/api/catalog/nope/", {}, {}),
    ("alice", "DELETE", "/api/catalog/nope/", {}, {}),
    ("charlie", "POST", "/api/catalog/nope/", {}, {}),
    # HTML: the catalog speaks JSON only, in every environment (see test_browsable_parity).
    ("anon", "GET", PRODUCTS, {"format": "api"}, {}),
    ("alice", "GET", PRODUCTS, {"format": "api"}, {}),
    ("charlie", "GET", CATEGORIES + "{c[trail]}/", {"format": "api"}, {}),
    ("anon", "GET", PRODUCTS, {}, {"Accept": "text/html"}),
    ("alice", "GET", PRODUCTS + "{p[TENT-0001]}/", {}, {"Accept": "text/html"}),
    ("anon", "GET", PRODUCTS, {}, {"Accept": BROWSER}),
    ("charlie", "GET", CATEGORIES, {"format": "json"}, {}),
]


def case_id(case) -> str:
    who, method, path, query, headers = case
    shown = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
    return f"{method} {path}{shown}{' ' + str(headers) if headers else ''} as {who}"


def ask(side: Side, stack, case):
    who, method, path, query, headers = case
    ids = {"p": stack.shop.products, "c": stack.shop.categories}
    return side.ask(who, method, path.format(**ids), params=query, headers=headers)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_the_service_answers_the_edges_like_the_monolith(monolith, service, stack, case):
    expected = ask(monolith, stack, case)

    assert expected.status < 500, expected
    assert ask(service, stack, case) == expected


@pytest.fixture(scope="module")
def live(proxy, stack) -> Iterator[Side]:
    side = Side("proxy", proxy.server.url, stack.shop, sign=False)
    proxy.route("live")
    try:
        yield side
    finally:
        proxy.route("off")
        side.close()


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_through_the_proxy_at_live_the_edges_get_the_monoliths_answer(monolith, live, stack, case):
    assert ask(live, stack, case) == ask(monolith, stack, case)


def session_cases(stack) -> list[tuple[str, str, str, dict[str, str]]]:
    """Browser sessions: the service never sees one (the proxy resolves it), so only the proxy is compared."""
    bob = {"Cookie": f"sessionid={stack.shop.personas['bob'].session}"}
    nobody = {"Cookie": "sessionid=no-such-session"}
    return [
        ("a session write to a path no view serves, without CSRF", "POST", "/api/catalog/nope/", bob),
        ("a session read of a path no view serves", "GET", "/api/catalog/nope/", bob),
        ("a session write with a format the endpoint lacks, without CSRF", "POST", PRODUCTS + "?format=api", bob),
        ("a cookie that names no session, on a path no view serves", "GET", "/api/catalog/nope/", nobody),
        ("a cookie that names no session, asking for HTML", "GET", PRODUCTS, {**nobody, "Accept": "text/html"}),
    ]


def test_through_the_proxy_at_live_sessions_at_the_edges_get_the_monoliths_answer(monolith, live, stack):
    for label, method, path, headers in session_cases(stack):
        assert live.ask("anon", method, path, headers=headers) == monolith.ask("anon", method, path, headers=headers), (
            label
        )
