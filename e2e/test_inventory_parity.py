"""The inventory service answers like the monolith: every endpoint, filter, search, ordering, page and refusal,
for every persona, compared on status, the client-visible headers, the parsed body and the raw bytes; then the
same writes sent to both, step by step (PostgreSQL only: the service has no other engine)."""

from __future__ import annotations

from typing import Any

import pytest

from parity import Answer, Side

BASE = "/api/inventory"
WAREHOUSES = f"{BASE}/warehouses/"
STOCK = f"{BASE}/stock/"
RESERVATIONS = f"{BASE}/reservations/"
PERSONAS = ("anon", "alice", "bob", "charlie", "invalid")

# (persona, method, path, query). {w[CODE]} a warehouse, {s[SKU@CODE]} a stock record, {p[SKU]} a product,
# {o} the seeded order; reservations 1 (by hand), 2 (released), 3 and 4 (the order's) exist from the seed.
CASES = [
    *[(who, "GET", path, {}) for who in PERSONAS for path in (WAREHOUSES, STOCK, RESERVATIONS)],
    *[(who, "GET", f"{BASE}/availability/{{p[TENT-0001]}}/", {}) for who in PERSONAS],
    ("anon", "GET", f"{BASE}/availability/{{p[MAT-0001]}}/", {}),  # inactive product: unknown
    ("charlie", "GET", f"{BASE}/availability/{{p[MAT-0001]}}/", {}),
    ("anon", "GET", f"{BASE}/availability/{{p[SHOE-0002]}}/", {}),  # stocked at 0
    ("anon", "GET", f"{BASE}/availability/{{p[RAKE-0001]}}/", {}),  # never stocked
    ("anon", "GET", f"{BASE}/availability/{{p[SOCK-0004]}}/", {}),  # partly reserved by the order
    ("anon", "GET", f"{BASE}/availability/999999/", {}),
    ("anon", "GET", f"{BASE}/availability/0{{p[TENT-0001]}}/", {}),
    ("anon", "GET", f"{BASE}/availability/abc/", {}),
    ("anon", "GET", f"{BASE}/availability/", {}),
    *[(who, "GET", f"{WAREHOUSES}{{w[BER-1]}}/", {}) for who in PERSONAS],
    ("charlie", "GET", f"{STOCK}{{s[TENT-0001@BER-1]}}/", {}),
    ("charlie", "GET", f"{RESERVATIONS}1/", {}),
    ("charlie", "GET", f"{RESERVATIONS}2/", {}),
    ("charlie", "GET", f"{WAREHOUSES}999999/", {}),
    ("charlie", "GET", f"{STOCK}999999/", {}),
    ("charlie", "GET", f"{RESERVATIONS}999999/", {}),
    ("alice", "GET", f"{RESERVATIONS}999999/", {}),
    ("anon", "GET", f"{RESERVATIONS}999999/", {}),
    ("charlie", "GET", WAREHOUSES, {"active": "false"}),
    ("charlie", "GET", WAREHOUSES, {"active": "TRUE"}),
    ("charlie", "GET", WAREHOUSES, {"active": "maybe"}),
    ("charlie", "GET", WAREHOUSES, {"active": "", "country": ""}),
    ("charlie", "GET", WAREHOUSES, {"country": "de"}),
    ("charlie", "GET", WAREHOUSES, {"country": "fR", "active": "1"}),
    ("charlie", "GET", WAREHOUSES, {"search": "berlin"}),
    ("charlie", "GET", WAREHOUSES, {"search": "berlin south"}),
    ("charlie", "GET", WAREHOUSES, {"search": "ber,ham"}),
    ("charlie", "GET", WAREHOUSES, {"search": '"berlin s"'}),
    ("charlie", "GET", WAREHOUSES, {"search": "-1"}),
    ("charlie", "GET", WAREHOUSES, {"search": "no such place"}),
    *[("charlie", "GET", WAREHOUSES, {"ordering": o}) for o in ("code", "-code", "name", "-name", "-id", "city")],
    ("charlie", "GET", WAREHOUSES, {"ordering": "name,nope,-id"}),
    ("charlie", "GET", WAREHOUSES, {"ordering": "--code"}),
    ("charlie", "GET", WAREHOUSES, {"page_size": "2"}),
    ("charlie", "GET", WAREHOUSES, {"page_size": "2", "page": "2", "ordering": "-code", "active": "true"}),
    ("charlie", "GET", WAREHOUSES, {"page_size": "2", "page": "last"}),
    ("charlie", "GET", WAREHOUSES, {"page_size": "2", "page": "9"}),
    ("charlie", "GET", WAREHOUSES, {"page": "0"}),
    ("charlie", "GET", WAREHOUSES, {"page": ""}),
    ("charlie", "GET", WAREHOUSES, {"page": "two"}),
    ("charlie", "GET", WAREHOUSES, {"page_size": "100"}),
    ("charlie", "GET", WAREHOUSES, {"page_size": "101"}),
    ("charlie", "GET", WAREHOUSES, {"page_size": "0"}),
    ("charlie", "GET", WAREHOUSES, {"page_size": ""}),
    ("charlie", "GET", WAREHOUSES, {"page_size": "ten", "active": "maybe"}),
    ("charlie", "GET", STOCK, {"product": "{p[TENT-0001]}"}),
    ("charlie", "GET", STOCK, {"warehouse": "{w[BER-2]}", "ordering": "-quantity"}),
    ("charlie", "GET", STOCK, {"warehouse": "{w[BER-2]}", "ordering": "quantity", "page_size": "3", "page": "2"}),
    ("charlie", "GET", STOCK, {"product": "x"}),
    ("charlie", "GET", STOCK, {"product": "999999"}),
    ("charlie", "GET", STOCK, {"search": "tent"}),
    ("charlie", "GET", RESERVATIONS, {"status": "active"}),
    ("charlie", "GET", RESERVATIONS, {"status": "released"}),
    ("charlie", "GET", RESERVATIONS, {"status": "ACTIVE"}),
    ("charlie", "GET", RESERVATIONS, {"status": "", "order": ""}),
    ("charlie", "GET", RESERVATIONS, {"order": "{o}"}),
    ("charlie", "GET", RESERVATIONS, {"order": "x", "product": "y"}),
    ("charlie", "GET", RESERVATIONS, {"warehouse": "{w[BER-1]}", "product": "{p[TENT-0001]}"}),
    ("charlie", "GET", RESERVATIONS, {"ordering": "-created_at"}),
    ("charlie", "GET", RESERVATIONS, {"ordering": "-id", "page_size": "2", "page": "2"}),
    *[
        (who, "HEAD", path, {})
        for who in ("anon", "charlie")
        for path in (WAREHOUSES, f"{BASE}/availability/{{p[TENT-0001]}}/")
    ],
    *[
        (who, "OPTIONS", path, {})
        for who in PERSONAS
        for path in (WAREHOUSES, f"{BASE}/availability/{{p[TENT-0001]}}/")
    ],
    ("charlie", "OPTIONS", f"{WAREHOUSES}{{w[BER-1]}}/", {}),
    ("charlie", "OPTIONS", f"{WAREHOUSES}999999/", {}),
    ("charlie", "OPTIONS", STOCK, {}),
    ("charlie", "OPTIONS", f"{STOCK}{{s[TENT-0001@BER-1]}}/", {}),
    ("charlie", "OPTIONS", RESERVATIONS, {}),
    ("charlie", "OPTIONS", f"{RESERVATIONS}1/", {}),
    ("charlie", "OPTIONS", f"{RESERVATIONS}1/release/", {}),
    ("charlie", "GET", f"{RESERVATIONS}1/release/", {}),
    ("anon", "GET", f"{RESERVATIONS}1/release/", {}),
    ("anon", "GET", f"{BASE}/", {}),
    ("anon", "GET", f"{BASE}/nope/", {}),
    ("charlie", "GET", f"{BASE}/warehouses", {}),
    ("charlie", "GET", f"{WAREHOUSES}{{w[BER-1]}}", {}),
    ("charlie", "GET", f"{WAREHOUSES}1.json/", {}),
    # The monolith's one integer rule (issue 18): filters outside it are 400s, path ids outside it match no route.
    ("charlie", "GET", STOCK, {"product": "99999999999999999999"}),
    ("charlie", "GET", STOCK, {"warehouse": "1.5"}),
    ("charlie", "GET", STOCK, {"product": "0{p[TENT-0001]}"}),
    ("charlie", "GET", RESERVATIONS, {"order": "-99999999999999999999", "product": "１"}),  # noqa: RUF001
    ("charlie", "GET", f"{WAREHOUSES}99999999999999999999/", {}),
    ("charlie", "GET", f"{WAREHOUSES}+{{w[BER-1]}}/", {}),
    ("charlie", "GET", f"{WAREHOUSES}abc/", {}),
    ("charlie", "GET", f"{RESERVATIONS}9223372036854775808/release/", {}),
    ("anon", "GET", f"{BASE}/availability/-1/", {}),
    ("anon", "GET", f"{BASE}/availability/99999999999999999999/", {}),
    # Credentials before the URL: an identity (a token, to the monolith) that does not verify is a 401 anywhere.
    ("invalid", "GET", f"{BASE}/nope/", {}),
    ("invalid", "POST", f"{BASE}/nope/", {}),
    ("invalid", "GET", f"{WAREHOUSES}abc/", {}),
    ("invalid", "DELETE", WAREHOUSES, {}),
    ("anon", "POST", f"{BASE}/nope/", {}),
    ("charlie", "DELETE", f"{BASE}/nope/", {}),
]


def case_id(case) -> str:
    who, method, path, query = case
    return f"{method} {path}{'?' + '&'.join(f'{k}={v}' for k, v in query.items()) if query else ''} as {who}"


def filled(text: str, inventory) -> str:
    return text.format(p=inventory.shop.products, w=inventory.warehouses, s=inventory.stock, o=inventory.order)


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_the_inventory_service_answers_like_the_monolith(inventory_monolith, inventory_service, inventory, case):
    who, method, path, query = case
    path = filled(path, inventory)
    query = {key: filled(value, inventory) for key, value in query.items()}

    expected = inventory_monolith.ask(who, method, path, params=query)
    actual = inventory_service.ask(who, method, path, params=query)

    assert actual == expected


class Both:
    """Each step to the monolith, then to the service; the answers must agree (timestamps of rows written during
    the run blanked: each side stamps its own clock)."""

    def __init__(self, monolith: Side, service: Side) -> None:
        self.monolith = monolith
        self.service = service

    def __call__(self, who: str, method: str, path: str, **kwargs: Any) -> Answer:
        expected = self.monolith.ask(who, method, path, **kwargs).masked()
        actual = self.service.ask(who, method, path, **kwargs).masked()
        assert actual == expected, f"{method} {path} as {who}"
        return expected


@pytest.fixture
def both(inventory_monolith, inventory_service) -> Both:
    return Both(inventory_monolith, inventory_service)


def test_nobody_customers_and_bad_credentials_cannot_write(both, inventory):
    berlin = inventory.warehouses["BER-1"]
    body = {"product": inventory.shop.products["TENT-0001"], "warehouse": berlin, "quantity": 1}
    for who, status in (("anon", 401), ("alice", 403), ("invalid", 401)):
        assert both(who, "POST", RESERVATIONS, json_body=body).status == status
        assert both(who, "POST", f"{RESERVATIONS}1/release/").status == status
        assert both(who, "POST", WAREHOUSES, json_body={"code": "X"}).status == status
        assert both(who, "DELETE", f"{WAREHOUSES}{berlin}/").status == status
        assert (
            both(who, "PATCH", f"{STOCK}{inventory.stock['TENT-0001@BER-1']}/", json_body={"quantity": 1}).status
            == status
        )
    assert both("anon", "POST", f"{BASE}/availability/1/", json_body={}).status == 405


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"code": "", "name": None, "city": 5, "country": "de", "active": "maybe"},
        {"code": "BER-1", "name": "x", "city": "y", "country": "DE"},
        {"code": "X" * 17, "name": "x", "city": "y", "country": "DEU"},
        {"code": ["a"], "name": {"a": 1}, "city": True, "country": 12, "active": 2},
        {"code": "A\u0000B", "name": "x", "city": "y", "country": "DE"},
        {"code": "   ", "name": "x" * 201, "city": "y" * 101, "country": "D"},
    ],
)
def test_invalid_warehouses_are_refused_alike(both, body):
    assert both("charlie", "POST", WAREHOUSES, json_body=body).status == 400


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"code": ', "application/json"),
        (b"[1, 2]", "application/json"),
        (b"<warehouse/>", "application/xml"),
        (b"", "application/json"),
        (b'{"quantity": NaN}', "application/json"),
    ],
)
def test_malformed_and_unsupported_bodies_are_refused_alike(both, content, content_type):
    assert both("charlie", "POST", RESERVATIONS, content=content, content_type=content_type).status in (400, 415)


def test_invalid_stock_and_reservations_are_refused_alike(both, inventory):
    products, berlin = inventory.shop.products, inventory.warehouses["BER-1"]
    tent = products["TENT-0001"]
    for path in (STOCK, RESERVATIONS):
        for body in (
            {},
            {"product": 0, "warehouse": 999999, "quantity": -1},
            {"product": "x", "warehouse": "x", "quantity": "lots"},
            {"product": 1.5, "warehouse": [1], "quantity": 1.5},
            {"product": True, "warehouse": None, "quantity": None},
            {"product": tent, "warehouse": "", "quantity": 99999999999},
            {"product": tent, "warehouse": True, "quantity": "1.0"},
            {"product": 999999, "warehouse": berlin, "quantity": 1},
            {"product": 99999999999999999999, "warehouse": berlin, "quantity": 1},
            {"product": tent, "warehouse": "99999999999999999999", "quantity": 1},
            {"product": tent, "warehouse": berlin},
        ):
            assert both("charlie", "POST", path, json_body=body).status == 400, (path, body)
    assert both("charlie", "POST", STOCK, json_body={"product": tent, "warehouse": berlin, "quantity": 1}).status == 409
    assert (
        both("charlie", "POST", RESERVATIONS, json_body={"product": tent, "warehouse": berlin, "quantity": 99}).status
        == 409
    )


def test_methods_an_endpoint_does_not_take_are_refused_alike(both, inventory):
    stock = f"{STOCK}{inventory.stock['TENT-0001@BER-1']}/"
    assert both("charlie", "PUT", stock, json_body={"quantity": 5}).status == 405
    assert both("charlie", "PUT", f"{RESERVATIONS}1/", json_body={}).status == 405
    assert both("charlie", "DELETE", f"{RESERVATIONS}1/").status == 405
    assert both("charlie", "DELETE", WAREHOUSES).status == 405
    assert both("anon", "PUT", f"{RESERVATIONS}1/", json_body={}).status == 401
    assert both("charlie", "PATCH", f"{STOCK}999999/", json_body={"quantity": -1}).status == 404


def test_staff_manage_warehouses_alike(both, inventory):
    created = both(
        "charlie",
        "POST",
        WAREHOUSES,
        json_body={"code": "  PAR-1 ", "name": " Paris ", "city": "Paris", "country": "FR", "active": "yes"},
    )
    assert created.status == 201
    paris = f"{WAREHOUSES}{created.body['id']}/"
    try:
        assert (
            both(
                "charlie", "POST", WAREHOUSES, json_body={"code": "PAR-1", "name": "x", "city": "y", "country": "FR"}
            ).status
            == 400
        )
        assert both("charlie", "PATCH", paris, json_body={"name": "Paris east", "active": False}).status == 200
        assert both("charlie", "PATCH", paris, json_body={"code": "BER-1"}).status == 400
        assert both("charlie", "PATCH", paris, json_body={"country": "xx"}).status == 400
        assert both("charlie", "PUT", paris, json_body={"name": "only"}).status == 400
        assert (
            both("charlie", "PUT", paris, json_body={"code": "PAR-2", "name": "P", "city": "C", "country": "FR"}).status
            == 200
        )
        assert both("charlie", "GET", WAREHOUSES, params={"search": "par", "active": "false"}).status == 200
        assert both("charlie", "OPTIONS", paris).status == 200
    finally:
        assert both("charlie", "DELETE", paris).status == 204
    assert both("charlie", "DELETE", paris).status == 404
    # A seeded warehouse that holds stock (not "the id before Paris": what that is depends on the tests before).
    assert both("charlie", "DELETE", f"{WAREHOUSES}{inventory.warehouses['BER-2']}/").status == 409


def test_staff_stock_reserve_and_release_alike(both, inventory):
    products, lyon = inventory.shop.products, inventory.warehouses["LYS-1"]
    created = both(
        "charlie", "POST", STOCK, json_body={"product": products["MUG-00001"], "warehouse": lyon, "quantity": "3"}
    )
    assert created.status == 201
    mugs = f"{STOCK}{created.body['id']}/"
    inactive = both(
        "charlie", "POST", STOCK, json_body={"product": products["MAT-0001"], "warehouse": lyon, "quantity": 2}
    )
    assert inactive.status == 201  # staff stock an inactive product, as in the monolith
    assert (
        both(
            "charlie", "POST", STOCK, json_body={"product": products["MUG-00001"], "warehouse": lyon, "quantity": 1}
        ).status
        == 409
    )

    held = both(
        "charlie", "POST", RESERVATIONS, json_body={"product": products["MUG-00001"], "warehouse": lyon, "quantity": 2}
    )
    assert held.status == 201
    assert both("anon", "GET", f"{BASE}/availability/{products['MUG-00001']}/").body == {
        "product": products["MUG-00001"],
        "available": 1,
    }
    assert both("charlie", "GET", mugs).body["reserved"] == 2
    assert both("charlie", "PATCH", mugs, json_body={}).status == 400
    assert both("charlie", "PATCH", mugs, json_body={"quantity": -5}).status == 400
    assert both("charlie", "PATCH", mugs, json_body={"quantity": 1}).status == 409  # below what is reserved
    assert both("charlie", "PATCH", mugs, json_body={"quantity": 8, "product": 1}).status == 200
    assert (
        both(
            "charlie",
            "POST",
            RESERVATIONS,
            json_body={"product": products["MUG-00001"], "warehouse": lyon, "quantity": 7},
        ).status
        == 409
    )
    assert both("charlie", "DELETE", mugs).status == 409  # units reserved
    assert both("charlie", "DELETE", f"{WAREHOUSES}{lyon}/").status == 409  # holds stock

    release = f"{RESERVATIONS}{held.body['id']}/release/"
    assert both("charlie", "POST", release).status == 200
    assert both("charlie", "POST", release).status == 409
    assert both("charlie", "POST", f"{RESERVATIONS}999999/release/").status == 404
    assert both("charlie", "GET", RESERVATIONS, params={"product": str(products["MUG-00001"])}).body["count"] == 1
    assert both("charlie", "DELETE", mugs).status == 204
    assert both("charlie", "DELETE", f"{STOCK}{inactive.body['id']}/").status == 204
    assert both("charlie", "GET", mugs).status == 404


def test_form_bodies_are_read_alike(both, inventory):
    created = both(
        "charlie",
        "POST",
        WAREHOUSES,
        content=b"code=FORM-1&name=Form&city=Bonn&country=DE",
        content_type="application/x-www-form-urlencoded",
    )
    assert created.status == 201 and created.body["active"] is False  # an absent checkbox is False
    form = f"{WAREHOUSES}{created.body['id']}/"
    assert (
        both("charlie", "PATCH", form, content=b"name=Renamed", content_type="application/x-www-form-urlencoded").status
        == 200
    )
    assert both("charlie", "DELETE", form).status == 204
