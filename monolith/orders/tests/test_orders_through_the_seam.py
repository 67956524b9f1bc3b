"""Placing an order once the catalog service owns the catalog: the lines are priced and named by the service (a
real process), in one lookup; when it cannot answer, a 503 and nothing written (docs/seam.md)."""

from __future__ import annotations

from common.testing import assert_error
from inventory import selectors as inventory_selectors
from inventory import services as inventory_services
from orders.models import Order

ORDERS = "/api/orders/"


def test_an_order_is_priced_and_named_by_the_service(
    service_owns_the_catalog, service_product, client_for, alice, make_warehouse
):
    tent, stove = service_product(price="199.00", name="Alpine tent"), service_product(price="59.90", name="Stove")
    warehouse = make_warehouse()
    for product in (tent, stove):
        inventory_services.stock_create(product_id=product["id"], warehouse=warehouse, quantity=5)

    placed = client_for(alice).post(
        ORDERS, {"lines": [{"product": tent["id"], "quantity": 2}, {"product": stove["id"], "quantity": 1}]}
    )

    assert placed.status_code == 201, placed.content
    assert placed.json()["total"] == "457.90"
    assert [(line["name"], line["unit_price"]) for line in placed.json()["lines"]] == [
        ("Alpine tent", "199.00"),
        ("Stove", "59.90"),
    ]


def test_a_product_the_service_does_not_sell_is_refused_as_before(
    service_owns_the_catalog, service_product, client_for, alice
):
    off = service_product(active=False)

    response = client_for(alice).post(ORDERS, {"lines": [{"product": off["id"], "quantity": 1}]})

    error = assert_error(response, 400, "invalid")
    assert error["fields"] == {"lines": [{"product": [f"No product with id {off['id']} is for sale."]}]}


def test_when_the_service_is_down_an_order_is_a_503_and_nothing_is_written(service_down, client_for, alice):
    response = client_for(alice).post(ORDERS, {"lines": [{"product": 1, "quantity": 1}]})

    error = assert_error(response, 503, "service_unavailable")
    assert response["Retry-After"] == "1"
    assert "catalog service cannot answer" in error["message"] and "nothing was changed" in error["message"]
    assert not Order.objects.exists() and not inventory_selectors.reservation_list().exists()


def test_after_five_failed_lookups_the_breaker_answers_at_once(service_down, client_for, alice):
    for _ in range(5):
        error = assert_error(client_for(alice).post(ORDERS, {"lines": [{"product": 1, "quantity": 1}]}), 503)
        assert "connection was refused" in error["message"]

    refused = assert_error(client_for(alice).post(ORDERS, {"lines": [{"product": 1, "quantity": 1}]}), 503)

    assert "failed repeatedly" in refused["message"]
    assert not Order.objects.exists()
