import pytest

from common.testing import assert_error
from inventory import selectors as inventory_selectors
from orders.models import Order

ORDERS = "/api/orders/"


@pytest.fixture
def mug(stocked):
    return stocked(quantity=10)


@pytest.fixture
def order(place, alice, mug):
    return place(alice, {mug: 3}).json()


def act(client, order, action):
    return client.post(f"{ORDERS}{order['id']}/{action}/")


def test_pending_to_paid_to_shipped(client_for, alice, charlie, order, mug):
    paid = act(client_for(alice), order, "pay")
    shipped = act(client_for(charlie), order, "ship")

    assert paid.status_code == 200 and paid.json()["status"] == "paid" and paid.json()["paid_at"]
    assert shipped.status_code == 200 and shipped.json()["status"] == "shipped" and shipped.json()["shipped_at"]
    assert inventory_selectors.stock_list().get(product_id=mug.id).quantity == 7
    assert inventory_selectors.reservation_list().get(order_id=order["id"]).status == "fulfilled"
    assert inventory_selectors.available_by_product(product_ids=[mug.id])[mug.id] == 7


def test_cancelling_a_pending_order_releases_its_stock(client_for, alice, order, mug):
    response = act(client_for(alice), order, "cancel")

    assert response.json()["status"] == "cancelled"
    assert inventory_selectors.available_by_product(product_ids=[mug.id])[mug.id] == 10


def test_a_paid_order_can_still_be_cancelled(client_for, alice, order):
    client = client_for(alice)
    act(client, order, "pay")

    assert act(client, order, "cancel").json()["status"] == "cancelled"


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([], "ship"),
        (["pay"], "pay"),
        (["pay", "ship"], "cancel"),
        (["pay", "ship"], "pay"),
        (["cancel"], "pay"),
        (["cancel"], "ship"),
        (["cancel"], "cancel"),
    ],
)
def test_illegal_transitions_are_a_409_and_change_nothing(client_for, alice, charlie, order, path, illegal):
    staff = client_for(charlie)
    for step in path:
        assert act(staff, order, step).status_code == 200
    before = Order.objects.get(id=order["id"])
    reservations_before = list(inventory_selectors.reservation_list().values_list("status", flat=True))

    error = assert_error(act(staff, order, illegal), 409, "invalid_transition")

    assert before.status in error["message"]
    after = Order.objects.get(id=order["id"])
    assert (after.status, after.updated_at) == (before.status, before.updated_at)
    assert list(inventory_selectors.reservation_list().values_list("status", flat=True)) == reservations_before


def test_a_customer_cannot_ship_even_their_own_paid_order(client_for, alice, order):
    client = client_for(alice)
    act(client, order, "pay")

    assert_error(act(client, order, "ship"), 403, "permission_denied")
    assert Order.objects.get(id=order["id"]).status == "paid"
