from common.testing import assert_error
from inventory import selectors as inventory_selectors
from orders.models import Order, OrderLine

ORDERS = "/api/orders/"


def nothing_changed(*products):
    assert not Order.objects.exists()
    assert not OrderLine.objects.exists()
    for product in products:
        assert inventory_selectors.available_by_product(product_ids=[product.id])[product.id] == 10


def test_a_customer_places_an_order_and_the_total_comes_from_the_lines(place, alice, stocked):
    mug, tent = stocked(price="12.50", name="Enamel mug"), stocked(price="199.00", name="Alpine tent")

    response = place(alice, {mug: 3, tent: 1})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending"
    assert body["currency"] == "EUR"
    assert body["total"] == "236.50"
    assert body["lines"] == [
        {"product": mug.id, "name": "Enamel mug", "quantity": 3, "unit_price": "12.50", "line_total": "37.50"},
        {"product": tent.id, "name": "Alpine tent", "quantity": 1, "unit_price": "199.00", "line_total": "199.00"},
    ]


def test_placing_an_order_reserves_its_stock(place, alice, stocked):
    mug = stocked(quantity=10)

    place(alice, {mug: 4})

    assert inventory_selectors.available_by_product(product_ids=[mug.id]) == {mug.id: 6}


def test_the_client_cannot_set_prices_or_totals(place, alice, stocked):
    mug = stocked(price="12.50")

    response = place(alice, {mug: 1}, total="0.01", status="shipped")

    assert response.json()["total"] == "12.50"
    assert response.json()["status"] == "pending"


def test_a_later_price_change_does_not_touch_a_placed_order(place, alice, stocked, client_for, charlie):
    mug = stocked(price="12.50")
    order = place(alice, {mug: 2}).json()

    client_for(charlie).patch(f"/api/catalog/products/{mug.id}/", {"price": "99.00"})

    again = client_for(alice).get(f"{ORDERS}{order['id']}/").json()
    assert again["total"] == "25.00"
    assert again["lines"][0]["unit_price"] == "12.50"


def test_an_unknown_product_is_a_400_naming_the_line(client_for, alice, stocked):
    mug = stocked()
    lines = [{"product": mug.id, "quantity": 1}, {"product": 999999, "quantity": 1}]

    response = client_for(alice).post(ORDERS, {"lines": lines})

    error = assert_error(response, 400, "invalid")
    assert error["fields"] == {"lines": [{}, {"product": ["No product with id 999999 is for sale."]}]}
    nothing_changed(mug)


def test_an_inactive_product_cannot_be_ordered(place, alice, stocked):
    mug, retired = stocked(), stocked(active=False)

    assert_error(place(alice, {mug: 1, retired: 1}), 400, "invalid")
    nothing_changed(mug, retired)


def test_more_than_is_in_stock_is_a_409_and_reserves_nothing(place, alice, stocked):
    mug, tent = stocked(quantity=10), stocked(quantity=10)

    error = assert_error(place(alice, {mug: 2, tent: 11}), 409, "insufficient_stock")

    assert str(tent.id) in error["message"]
    nothing_changed(mug, tent)


def test_mixed_currencies_are_a_400(place, alice, stocked):
    euro, dollar = stocked(currency="EUR"), stocked(currency="USD")

    error = assert_error(place(alice, {euro: 1, dollar: 1}), 400, "invalid")

    assert "lines" in error["fields"]
    nothing_changed(euro, dollar)


def test_wrong_types_and_out_of_range_quantities_are_400s(client_for, alice, stocked):
    mug = stocked()
    client = client_for(alice)
    bad_bodies = [
        {"lines": []},
        {"lines": "mug"},
        {"lines": [{"product": mug.id, "quantity": 0}]},
        {"lines": [{"product": mug.id, "quantity": -1}]},
        {"lines": [{"product": mug.id, "quantity": "two"}]},
        {"lines": [{"product": "mug", "quantity": 1}]},
        {"lines": [{"product": mug.id}]},
        {},
    ]
    for body in bad_bodies:
        error = assert_error(client.post(ORDERS, body), 400, "invalid")
        assert "lines" in error["fields"], body
    nothing_changed(mug)


def test_the_same_product_on_two_lines_is_a_400(client_for, alice, stocked):
    mug = stocked()
    lines = [{"product": mug.id, "quantity": 1}, {"product": mug.id, "quantity": 2}]

    error = assert_error(client_for(alice).post(ORDERS, {"lines": lines}), 400, "invalid")

    assert error["fields"]["lines"][0] == {}
    nothing_changed(mug)


def test_malformed_json_is_a_400(client_for, alice, stocked):
    mug = stocked()

    response = client_for(alice).post(ORDERS, data='{"lines": [', content_type="application/json")

    assert_error(response, 400, "parse_error")
    nothing_changed(mug)


def test_an_anonymous_caller_cannot_order(anon, stocked):
    mug = stocked()
    assert_error(anon.post(ORDERS, {"lines": [{"product": mug.id, "quantity": 1}]}), 401, "not_authenticated")
    nothing_changed(mug)


def test_a_customer_ships_to_their_own_address(place, client_for, alice, stocked):
    mug = stocked()
    address = (
        client_for(alice)
        .post(
            "/api/customers/addresses/",
            {"recipient": "Alice", "line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
        )
        .json()
    )

    response = place(alice, {mug: 1}, shipping_address=address["id"])

    assert response.status_code == 201, response.content
    assert response.json()["shipping_address"] == address["id"]


def test_another_customers_address_is_refused_like_an_unknown_one(place, client_for, alice, bob, stocked):
    mug = stocked()
    bobs = (
        client_for(bob)
        .post(
            "/api/customers/addresses/",
            {"recipient": "Bob", "line1": "Main St 1", "city": "Hamburg", "postal_code": "20095", "country": "DE"},
        )
        .json()
    )

    error = assert_error(place(alice, {mug: 1}, shipping_address=bobs["id"]), 400, "invalid")

    assert error["fields"] == {"shipping_address": [f"No address with id {bobs['id']}."]}
    nothing_changed(mug)
