"""Writes: the same sequence of requests against both gives the same answers, step by step — refusals for
anonymous callers, customers and bad input, and staff creating, changing and deleting. Both sides start from the
same rows and sequences, so new objects get the same ids; only the timestamps of objects written during the run
differ (each side stamps its own clock) and are blanked."""

from __future__ import annotations

from typing import Any

import pytest

from parity import Answer, Side

PRODUCTS = "/api/catalog/products/"
CATEGORIES = "/api/catalog/categories/"
MISSING_CATEGORY = "a category id no row has"  # conftest's `missing`, known only once the test runs


class Both:
    """Sends each step to the monolith, then to the service, and checks the answers agree."""

    def __init__(self, monolith: Side, service: Side) -> None:
        self.monolith = monolith
        self.service = service

    def __call__(self, who: str, method: str, path: str, **kwargs: Any) -> Answer:
        expected = self.monolith.ask(who, method, path, **kwargs).masked()
        actual = self.service.ask(who, method, path, **kwargs).masked()
        assert actual == expected, f"{method} {path} as {who}"
        return expected


@pytest.fixture
def both(monolith, service) -> Both:
    return Both(monolith, service)


@pytest.fixture
def product(stack) -> dict[str, Any]:
    return {
        "sku": "E2E-0001",
        "name": "Parity kettle",
        "slug": "parity-kettle",
        "description": "Boils the same on both sides",
        "price": "31.00",
        "currency": "EUR",
        "active": True,
        "category": stack.shop.categories["kitchen"],
    }


def test_anonymous_customers_and_bad_credentials_cannot_write(both, product, stack):
    tent = f"{PRODUCTS}{stack.shop.products['TENT-0001']}/"
    assert both("anon", "POST", PRODUCTS, json_body=product).status == 401
    assert both("alice", "POST", PRODUCTS, json_body=product).status == 403
    assert both("invalid", "POST", PRODUCTS, json_body=product).status == 401
    assert both("bob", "PATCH", tent, json_body={"price": "0.01"}).status == 403
    assert both("anon", "DELETE", tent).status == 401
    assert both("alice", "DELETE", tent).status == 403
    assert both("alice", "POST", CATEGORIES, json_body={"name": "X", "slug": "x"}).status == 403
    assert both("anon", "GET", tent).body["price"] == "349.00"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", "-1.00"),
        ("price", "twelve"),
        ("price", "1.234"),
        ("price", None),
        ("currency", "euro"),
        ("active", "maybe"),
        ("category", MISSING_CATEGORY),
        ("category", "kitchen"),
        ("sku", ""),
        ("sku", "TENT-0001"),
        ("slug", "not a slug"),
        ("name", "x" * 201),
    ],
)
def test_invalid_fields_are_refused_alike(both, product, missing, field, value):
    value = missing["category"] if value == MISSING_CATEGORY else value
    assert both("charlie", "POST", PRODUCTS, json_body={**product, field: value}).status == 400


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"sku": ', "application/json"),
        (b"[1, 2]", "application/json"),
        (b"<product/>", "application/xml"),
        (b"", "application/json"),
        (b"sku=E2E&name=x", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_and_unsupported_bodies_are_refused_alike(both, content, content_type):
    assert both("charlie", "POST", PRODUCTS, content=content, content_type=content_type).status in (400, 415)


def test_methods_an_endpoint_does_not_allow_are_refused_alike(both, missing):
    assert both("charlie", "PUT", PRODUCTS, json_body={}).status == 405
    assert both("charlie", "DELETE", CATEGORIES).status == 405
    assert both("charlie", "PATCH", f"{PRODUCTS}{missing['product']}/", json_body={"price": "1.00"}).status == 404


def test_staff_create_change_replace_and_delete_a_product_alike(both, product):
    created = both("charlie", "POST", PRODUCTS, json_body=product)
    assert created.status == 201
    item = f"{PRODUCTS}{created.body['id']}/"
    try:
        assert both("anon", "GET", item).body["name"] == "Parity kettle"
        assert both("charlie", "POST", PRODUCTS, json_body=product).status == 400  # duplicate sku and slug
        assert both("charlie", "PATCH", item, json_body={"price": "29.50", "active": False}).status == 200
        assert both("anon", "GET", item).status == 404  # inactive: hidden from customers
        assert both("charlie", "GET", PRODUCTS, params={"active": "false", "search": "kettle"}).body["count"] == 1
        assert both("charlie", "PATCH", item, json_body={"price": "-3"}).status == 400
        assert both("charlie", "PUT", item, json_body={**product, "name": "Parity kettle II"}).status == 200
        assert both("charlie", "PUT", item, json_body={"name": "only a name"}).status == 400
        assert both("anon", "GET", item).body["name"] == "Parity kettle II"
    finally:
        assert both("charlie", "DELETE", item).status == 204
    assert both("charlie", "GET", item).status == 404
    assert both("charlie", "DELETE", item).status == 404


def test_staff_manage_the_category_tree_alike(both, stack, missing):
    clothing = stack.shop.categories["clothing"]
    shoes = stack.shop.categories["shoes"]
    assert both("charlie", "PATCH", f"{CATEGORIES}{clothing}/", json_body={"parent": shoes}).status == 400
    assert both("charlie", "DELETE", f"{CATEGORIES}{clothing}/").status == 409  # has subcategories
    assert both("charlie", "DELETE", f"{CATEGORIES}{stack.shop.categories['garden']}/").status == 409  # products
    bad = {"name": "Bad", "slug": "bad", "parent": missing["category"]}
    assert both("charlie", "POST", CATEGORIES, json_body=bad).status == 400

    created = both("charlie", "POST", CATEGORIES, json_body={"name": "Hats", "slug": "hats", "parent": clothing})
    assert created.status == 201
    hats = f"{CATEGORIES}{created.body['id']}/"
    try:
        assert both("anon", "GET", CATEGORIES, params={"parent": clothing}).body["count"] == 2
        assert both("charlie", "PATCH", hats, json_body={"parent": None, "name": "Caps"}).status == 200
        assert both("charlie", "POST", CATEGORIES, json_body={"name": "Hats", "slug": "hats"}).status == 400
    finally:
        assert both("charlie", "DELETE", hats).status == 204
