"""Reads: every catalog endpoint, filter, search, ordering, page and error answers the same from the service as
from the monolith, for every persona (timestamps included: the rows are copies)."""

from __future__ import annotations

import pytest

PRODUCTS = "/api/catalog/products/"
CATEGORIES = "/api/catalog/categories/"

# (persona, method, path, query); {p[SKU]} and {c[slug]} stand for the ids the seed gave them, {missing[product]},
# {missing[category]} for ids no row has, {missing[page]} for a page past the end (conftest's `missing`).
CASES = [
    *[(who, "GET", PRODUCTS, {}) for who in ("anon", "alice", "charlie", "invalid")],
    ("anon", "GET", PRODUCTS, {"page_size": "5"}),
    ("anon", "GET", PRODUCTS, {"page_size": "5", "page": "3"}),
    ("charlie", "GET", PRODUCTS, {"page_size": "7", "page": "5"}),
    ("anon", "GET", PRODUCTS, {"page_size": "100"}),
    ("anon", "GET", PRODUCTS, {"page_size": "101"}),
    ("anon", "GET", PRODUCTS, {"page_size": "0"}),
    ("anon", "GET", PRODUCTS, {"page_size": "ten"}),
    ("anon", "GET", PRODUCTS, {"page_size": ""}),
    ("anon", "GET", PRODUCTS, {"page": "{missing[page]}"}),
    ("anon", "GET", PRODUCTS, {"page": "last"}),
    ("anon", "GET", PRODUCTS, {"page": "zero"}),
    ("anon", "GET", PRODUCTS, {"category": "{c[shoes]}"}),
    ("anon", "GET", PRODUCTS, {"category": "shoes"}),
    ("anon", "GET", PRODUCTS, {"in_category": "{c[clothing]}"}),
    ("charlie", "GET", PRODUCTS, {"in_category": "{c[clothing]}", "page_size": "50"}),
    ("anon", "GET", PRODUCTS, {"in_category": "{missing[category]}"}),
    ("anon", "GET", PRODUCTS, {"min_price": "10", "max_price": "20"}),
    ("anon", "GET", PRODUCTS, {"min_price": "cheap"}),
    ("anon", "GET", PRODUCTS, {"max_price": "0"}),
    ("anon", "GET", PRODUCTS, {"currency": "usd"}),
    ("charlie", "GET", PRODUCTS, {"currency": "USD"}),
    ("charlie", "GET", PRODUCTS, {"active": "false"}),
    ("alice", "GET", PRODUCTS, {"active": "false"}),
    ("anon", "GET", PRODUCTS, {"active": "sometimes"}),
    ("anon", "GET", PRODUCTS, {"search": "tent"}),
    ("anon", "GET", PRODUCTS, {"search": "SHOE"}),
    ("anon", "GET", PRODUCTS, {"search": "no such thing"}),
    *[("anon", "GET", PRODUCTS, {"ordering": o}) for o in ("price", "-price", "name", "-name", "created_at", "-id")],
    ("anon", "GET", PRODUCTS, {"ordering": "price,-name"}),
    ("anon", "GET", PRODUCTS, {"ordering": "sku"}),
    ("anon", "GET", PRODUCTS, {"ordering": "password"}),
    ("anon", "GET", PRODUCTS, {"search": "shoe", "ordering": "-price", "currency": "eur", "page_size": "2"}),
    # The monolith's seam asks for products in batches by id (docs/seam.md).
    *[
        (who, "GET", PRODUCTS, {"ids": "{p[MAT-0001]},{p[TENT-0001]},{missing[product]}"})
        for who in ("anon", "charlie")
    ],
    ("anon", "GET", PRODUCTS, {"ids": ",".join(str(n) for n in range(1, 101)), "page_size": "100"}),
    ("anon", "GET", PRODUCTS, {"ids": ",".join(str(n) for n in range(1, 102))}),
    ("anon", "GET", PRODUCTS, {"ids": "1,,2"}),
    ("anon", "GET", PRODUCTS, {"ids": "1e3"}),
    ("anon", "GET", PRODUCTS + "{p[TENT-0001]}/", {}),
    ("alice", "GET", PRODUCTS + "{p[SHOE-0001]}/", {}),
    ("anon", "GET", PRODUCTS + "{p[MAT-0001]}/", {}),
    ("alice", "GET", PRODUCTS + "{p[MAT-0001]}/", {}),
    ("charlie", "GET", PRODUCTS + "{p[MAT-0001]}/", {}),
    ("anon", "GET", PRODUCTS + "{missing[product]}/", {}),
    ("anon", "GET", PRODUCTS + "abc/", {}),
    ("anon", "GET", PRODUCTS + "-1/", {}),
    ("invalid", "GET", PRODUCTS + "{p[TENT-0001]}/", {}),
    *[(who, "GET", CATEGORIES, {}) for who in ("anon", "bob", "charlie")],
    ("anon", "GET", CATEGORIES, {"root": "true"}),
    ("anon", "GET", CATEGORIES, {"root": "false"}),
    ("anon", "GET", CATEGORIES, {"root": "maybe"}),
    ("anon", "GET", CATEGORIES, {"parent": "{c[clothing]}"}),
    ("anon", "GET", CATEGORIES, {"parent": "x"}),
    ("anon", "GET", CATEGORIES, {"search": "shoe"}),
    ("anon", "GET", CATEGORIES, {"ordering": "-name"}),
    ("anon", "GET", CATEGORIES, {"page_size": "2", "page": "2"}),
    ("anon", "GET", CATEGORIES + "{c[trail]}/", {}),
    ("anon", "GET", CATEGORIES + "{missing[category]}/", {}),
    ("anon", "HEAD", PRODUCTS, {}),
    ("anon", "HEAD", CATEGORIES + "{c[trail]}/", {}),
    *[(who, "OPTIONS", PRODUCTS, {}) for who in ("anon", "alice", "charlie")],
    ("charlie", "OPTIONS", PRODUCTS + "{p[TENT-0001]}/", {}),
    ("charlie", "OPTIONS", CATEGORIES, {}),
    ("anon", "GET", "/api/catalog/", {}),
    ("anon", "GET", "/api/catalog/nope/", {}),
    ("anon", "GET", "/api/catalog/products", {}),
    ("anon", "GET", PRODUCTS + "{p[TENT-0001]}/reviews/", {}),
]


def case_id(case) -> str:
    who, method, path, query = case
    return f"{method} {path}{'?' + '&'.join(f'{k}={v}' for k, v in query.items()) if query else ''} as {who}"


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_the_service_answers_like_the_monolith(monolith, service, stack, missing, case):
    who, method, path, query = case
    ids = {"p": stack.shop.products, "c": stack.shop.categories, "missing": missing}
    path = path.format(**ids)
    query = {key: value.format(**ids) for key, value in query.items()}

    expected = monolith.ask(who, method, path, params=query)
    actual = service.ask(who, method, path, params=query)

    assert actual == expected
