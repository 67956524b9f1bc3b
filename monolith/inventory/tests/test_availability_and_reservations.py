from common.testing import assert_error
from inventory.models import Reservation

RESERVATIONS = "/api/inventory/reservations/"


def availability(client, product):
    return client.get(f"/api/inventory/availability/{product.id}/")


def test_anyone_sees_how_many_units_are_free_across_warehouses(anon, make_product, stock):
    product = make_product()
    stock(product, 3)
    stock(product, 4)

    response = availability(anon, product)

    assert response.status_code == 200
    assert response.json() == {"product": product.id, "available": 7}


def test_inactive_warehouses_do_not_count(anon, make_product, make_warehouse, stock):
    product = make_product()
    stock(product, 3, warehouse=make_warehouse(active=False))

    assert availability(anon, product).json()["available"] == 0


def test_availability_of_an_unknown_product_is_a_404(anon, db):
    assert_error(anon.get("/api/inventory/availability/424242/"), 404, "not_found")


def test_staff_reserve_by_hand_and_release(client_for, charlie, anon, make_product, stock):
    product = make_product()
    record = stock(product, 5)
    client = client_for(charlie)

    created = client.post(RESERVATIONS, {"product": product.id, "warehouse": record.warehouse_id, "quantity": 2})
    assert created.status_code == 201, created.content
    assert availability(anon, product).json()["available"] == 3

    released = client.post(f"{RESERVATIONS}{created.json()['id']}/release/")
    assert released.json()["status"] == "released"
    assert availability(anon, product).json()["available"] == 5


def test_reserving_more_than_is_free_is_a_409_and_reserves_nothing(client_for, charlie, make_product, stock):
    product = make_product()
    record = stock(product, 2)

    response = client_for(charlie).post(
        RESERVATIONS, {"product": product.id, "warehouse": record.warehouse_id, "quantity": 3}
    )

    assert_error(response, 409, "insufficient_stock")
    assert not Reservation.objects.exists()


def test_a_released_reservation_cannot_be_released_again(client_for, charlie, make_product, stock):
    product = make_product()
    record = stock(product, 2)
    client = client_for(charlie)
    reservation = client.post(
        RESERVATIONS, {"product": product.id, "warehouse": record.warehouse_id, "quantity": 1}
    ).json()
    client.post(f"{RESERVATIONS}{reservation['id']}/release/")

    assert_error(client.post(f"{RESERVATIONS}{reservation['id']}/release/"), 409, "invalid_transition")


def test_a_zero_quantity_reservation_is_a_400(client_for, charlie, make_product, stock):
    product = make_product()
    record = stock(product, 2)

    response = client_for(charlie).post(
        RESERVATIONS, {"product": product.id, "warehouse": record.warehouse_id, "quantity": 0}
    )

    assert_error(response, 400, "invalid")
    assert not Reservation.objects.exists()


def test_reserving_an_unknown_product_is_a_400(client_for, charlie, make_warehouse):
    response = client_for(charlie).post(
        RESERVATIONS, {"product": 999999, "warehouse": make_warehouse().id, "quantity": 1}
    )

    error = assert_error(response, 400, "invalid")
    assert list(error["fields"]) == ["product"]
    assert not Reservation.objects.exists()
