from common.testing import assert_error
from orders.models import Order

ORDERS = "/api/orders/"


def test_customers_list_only_their_own_orders(place, client_for, alice, bob, stocked):
    mug = stocked()
    mine = place(alice, {mug: 1}).json()
    place(bob, {mug: 1})

    listed = client_for(alice).get(ORDERS).json()

    assert [o["id"] for o in listed["results"]] == [mine["id"]]


def test_another_customers_order_is_a_404_for_reading_and_every_action(place, client_for, alice, bob, stocked):
    mug = stocked()
    order = place(alice, {mug: 1}).json()
    as_bob = client_for(bob)

    assert_error(as_bob.get(f"{ORDERS}{order['id']}/"), 404, "not_found")
    for action in ("pay", "cancel"):
        assert_error(as_bob.post(f"{ORDERS}{order['id']}/{action}/"), 404, "not_found")
    assert Order.objects.get(id=order["id"]).status == "pending"


def test_a_missing_order_and_a_foreign_order_look_the_same(place, client_for, alice, bob, stocked):
    order = place(alice, {stocked(): 1}).json()
    as_bob = client_for(bob)

    foreign = as_bob.get(f"{ORDERS}{order['id']}/").json()
    missing = as_bob.get(f"{ORDERS}999999/").json()

    assert foreign == missing


def test_staff_see_every_order_and_filter_by_status(place, client_for, alice, bob, charlie, stocked):
    mug = stocked()
    first = place(alice, {mug: 1}).json()
    second = place(bob, {mug: 1}).json()
    staff = client_for(charlie)
    staff.post(f"{ORDERS}{second['id']}/pay/")

    everything = staff.get(ORDERS).json()
    paid = staff.get(ORDERS, {"status": "paid"}).json()

    assert [o["id"] for o in everything["results"]] == [second["id"], first["id"]]
    assert [o["id"] for o in paid["results"]] == [second["id"]]


def test_an_unknown_status_filter_is_a_400(client_for, alice):
    error = assert_error(client_for(alice).get(ORDERS, {"status": "lost"}), 400, "invalid")
    assert list(error["fields"]) == ["status"]


def test_orders_cannot_be_edited_or_deleted_directly(place, client_for, alice, stocked):
    order = place(alice, {stocked(): 1}).json()
    client = client_for(alice)

    assert_error(client.patch(f"{ORDERS}{order['id']}/", {"status": "shipped"}), 405, "method_not_allowed")
    assert_error(client.delete(f"{ORDERS}{order['id']}/"), 405, "method_not_allowed")
    assert Order.objects.get(id=order["id"]).status == "pending"


def test_an_order_keeps_what_it_sold_when_the_product_is_deleted(place, client_for, alice, charlie, stocked):
    mug = stocked(price="12.50", name="Enamel mug")
    order = place(alice, {mug: 2}).json()

    assert client_for(charlie).delete(f"/api/catalog/products/{mug.id}/").status_code == 204

    line = client_for(alice).get(f"{ORDERS}{order['id']}/").json()["lines"][0]
    assert line == {
        "product": mug.id,
        "name": "Enamel mug",
        "quantity": 2,
        "unit_price": "12.50",
        "line_total": "25.00",
    }
