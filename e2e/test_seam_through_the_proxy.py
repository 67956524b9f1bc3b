"""The monolith after the cut, through the proxy (docs/seam.md): its other apps reach the catalog through the seam,
which answers from the side that owns the catalog as the engine records it at each flip. Right after a cutover a
product made through the proxy is at once stocked, ordered and reviewed (no reverse sync runs here at all); a
rollback gives the monolith its own reads back with nothing lost; with the catalog service down a customer gets a
clear 503 and no write is lost or made twice."""

from __future__ import annotations

import json
from itertools import count

import pytest

PRODUCTS = "/api/catalog/products/"
STOCK = "/api/inventory/stock/"
ORDERS = "/api/orders/"
REVIEWS = "/api/reviews/"
ROUNDS = 3
TRIES_PER_ROUND = 10

_sku = count(1)


@pytest.fixture(scope="module")
def warehouse(seam) -> int:
    with seam.client("charlie") as staff:
        body = {"code": "SEAM", "name": "Seam", "city": "Berlin", "country": "DE"}
        made = staff.post("/api/inventory/warehouses/", json=body)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def new_product(seam, staff, **fields) -> dict:
    sku = f"SEAM-{seam.engine[:2]}-{next(_sku):04d}"
    body = {"sku": sku, "name": f"Seam probe {sku}", "slug": sku.lower(), "price": "19.90"}
    body.update(category=seam.shop.categories["kitchen"], **fields)
    made = staff.post(PRODUCTS, json=body)
    assert made.status_code == 201, made.text
    return made.json()


def probe_lines(seam) -> int:
    return int(seam.sql("SELECT count(*) FROM orders_orderline WHERE name LIKE %s", ("Seam probe%",))[0][0])


def test_right_after_cutover_a_new_product_is_at_once_stocked_ordered_and_reviewed(seam, warehouse):
    failures = []
    lines_before = probe_lines(seam)
    with seam.client("charlie") as staff, seam.client("alice") as alice:
        for _round in range(ROUNDS):
            seam.own("monolith")
            seam.own("service")
            for _ in range(TRIES_PER_ROUND):
                product = new_product(seam, staff)
                stocked = staff.post(STOCK, json={"product": product["id"], "warehouse": warehouse, "quantity": 3})
                ordered = alice.post(ORDERS, json={"lines": [{"product": product["id"], "quantity": 1}]})
                reviewed = alice.post(REVIEWS, json={"product": product["id"], "rating": 4})
                for answer in (stocked, ordered, reviewed):
                    if answer.status_code != 201:
                        failures.append(f"{answer.request.method} {answer.request.url.path}: {answer.text[:200]}")
                if ordered.status_code == 201:
                    assert ordered.json()["lines"][0]["name"] == product["name"]
    assert failures == []
    assert probe_lines(seam) == lines_before + ROUNDS * TRIES_PER_ROUND


def test_a_rollback_from_live_gives_the_monolith_its_own_reads_back_with_nothing_lost(seam, warehouse):
    seam.own("service")
    with seam.client("charlie") as staff, seam.client("alice") as alice:
        made_while_live = new_product(seam, staff, price="42.00")
        stocked = staff.post(STOCK, json={"product": made_while_live["id"], "warehouse": warehouse, "quantity": 5})
        assert stocked.status_code == 201, stocked.text
        first = alice.post(ORDERS, json={"lines": [{"product": made_while_live["id"], "quantity": 1}]})
        assert first.status_code == 201, first.text

        seam.own("monolith")
        in_monolith = seam.sql("SELECT name, price FROM catalog_product WHERE id = %s", (made_while_live["id"],))
        assert [(name, f"{float(price):.2f}") for name, price in in_monolith] == [(made_while_live["name"], "42.00")]
        with seam.catalog_down():  # the monolith's reads are its own again: the service is not asked
            second = alice.post(ORDERS, json={"lines": [{"product": made_while_live["id"], "quantity": 2}]})
            assert second.status_code == 201, second.text
            line = second.json()["lines"][0]
            assert (line["name"], line["unit_price"], line["line_total"]) == (made_while_live["name"], "42.00", "84.00")
        assert {order["id"] for order in alice.get(ORDERS, params={"page_size": 100}).json()["results"]} >= {
            first.json()["id"],
            second.json()["id"],
        }


def test_with_the_catalog_service_down_an_order_is_a_clear_503_and_no_write_is_lost_or_doubled(seam, warehouse):
    seam.own("service")
    with seam.client("charlie") as staff, seam.client("alice") as alice:
        product = new_product(seam, staff)
        stocked = staff.post(STOCK, json={"product": product["id"], "warehouse": warehouse, "quantity": 4})
        assert stocked.status_code == 201, stocked.text
        order = {"lines": [{"product": product["id"], "quantity": 1}]}
        orders, reservations = seam.count("orders_order"), seam.count("inventory_reservation")

        with seam.catalog_down():
            refused = alice.post(ORDERS, json=order)
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "1"
            error = json.loads(refused.text)["error"]
            assert error["code"] == "service_unavailable" and "nothing was changed" in error["message"]
            assert (seam.count("orders_order"), seam.count("inventory_reservation")) == (orders, reservations)

        placed = alice.post(ORDERS, json=order)  # the client tries again once the service is back
        assert placed.status_code == 201, placed.text
        assert (seam.count("orders_order"), seam.count("inventory_reservation")) == (orders + 1, reservations + 1)
