"""A strangler migration is finished when the monolith works without the extracted tables: after
`strangler data retire` has archived the monolith's `catalog_*` tables, a customer lists products, places an
order, has stock reserved and writes a review through the proxy (docs/seam.md), on both engines."""

from __future__ import annotations

import json

import pytest

PRODUCTS = "/api/catalog/products/"


@pytest.fixture(scope="module")
def retired(seam):
    seam.own("service")
    done = seam.data("retire", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    archived = json.loads(done.stdout)["archived"]
    assert set(archived) == {"catalog_category", "catalog_product"}
    return seam


def table_exists(seam, table: str) -> bool:
    if seam.engine == "sqlite":
        return bool(seam.sql("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = %s", (table,))[0][0])
    return bool(seam.sql("SELECT to_regclass(%s) IS NOT NULL", (table,))[0][0])


def test_the_monolith_catalog_tables_are_gone(retired):
    assert not table_exists(retired, "catalog_product") and not table_exists(retired, "catalog_category")


def test_a_customer_shops_end_to_end_through_the_proxy(retired):
    with retired.client() as anon, retired.client("charlie") as staff, retired.client("alice") as alice:
        listed = anon.get(PRODUCTS, params={"search": "alpine"})
        assert listed.status_code == 200 and [p["sku"] for p in listed.json()["results"]] == ["TENT-0001"]
        tent = listed.json()["results"][0]

        body = {"code": "AFTER", "name": "After retire", "city": "Berlin", "country": "DE"}
        warehouse = staff.post("/api/inventory/warehouses/", json=body).json()["id"]
        stocked = staff.post(
            "/api/inventory/stock/", json={"product": tent["id"], "warehouse": warehouse, "quantity": 5}
        )
        assert stocked.status_code == 201, stocked.text
        assert anon.get(f"/api/inventory/availability/{tent['id']}/").json()["available"] == 5

        ordered = alice.post("/api/orders/", json={"lines": [{"product": tent["id"], "quantity": 2}]})
        assert ordered.status_code == 201, ordered.text
        assert ordered.json()["lines"][0] == {
            "product": tent["id"],
            "name": tent["name"],
            "quantity": 2,
            "unit_price": tent["price"],
            "line_total": f"{2 * float(tent['price']):.2f}",
        }
        reservations = staff.get("/api/inventory/reservations/", params={"order": ordered.json()["id"]}).json()
        assert [(r["product"], r["quantity"], r["status"]) for r in reservations["results"]] == [
            (tent["id"], 2, "active")
        ]
        hold = {"product": tent["id"], "warehouse": warehouse, "quantity": 1}
        by_hand = staff.post("/api/inventory/reservations/", json=hold)
        assert by_hand.status_code == 201, by_hand.text
        assert anon.get(f"/api/inventory/availability/{tent['id']}/").json()["available"] == 2

        reviewed = alice.post("/api/reviews/", json={"product": tent["id"], "rating": 5, "title": "Still here"})
        assert reviewed.status_code == 201, reviewed.text
        assert alice.post("/api/orders/", json={"lines": [{"product": 10**12, "quantity": 1}]}).status_code == 400


def test_a_product_made_after_retire_is_sold_at_once(retired):
    with retired.client("charlie") as staff, retired.client("alice") as alice:
        body = {"sku": "AFTER-0001", "name": "Made after retire", "slug": "after-0001", "price": "7.00"}
        product = staff.post(PRODUCTS, json={**body, "category": retired.shop.categories["kitchen"]})
        assert product.status_code == 201, product.text
        body = {"code": "AFTER2", "name": "After retire", "city": "Bonn", "country": "DE"}
        warehouse = staff.post("/api/inventory/warehouses/", json=body).json()["id"]
        stock = {"product": product.json()["id"], "warehouse": warehouse, "quantity": 1}
        assert staff.post("/api/inventory/stock/", json=stock).status_code == 201

        ordered = alice.post("/api/orders/", json={"lines": [{"product": product.json()["id"], "quantity": 1}]})

        assert ordered.status_code == 201, ordered.text
        assert ordered.json()["lines"][0]["name"] == "Made after retire"
