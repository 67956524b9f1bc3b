from common.testing import assert_error
from inventory.models import Stock

STOCK = "/api/inventory/stock/"


def test_staff_record_stock_of_a_product_in_a_warehouse(client_for, charlie, make_product, make_warehouse):
    product, warehouse = make_product(), make_warehouse()

    response = client_for(charlie).post(STOCK, {"product": product.id, "warehouse": warehouse.id, "quantity": 12})

    assert response.status_code == 201, response.content
    assert response.json() | {"id": 0, "created_at": "", "updated_at": ""} == {
        "id": 0,
        "product": product.id,
        "warehouse": warehouse.id,
        "quantity": 12,
        "reserved": 0,
        "available": 12,
        "created_at": "",
        "updated_at": "",
    }


def test_stock_is_staff_only_even_for_reading(client_for, alice, anon, db):
    assert_error(client_for(alice).get(STOCK), 403, "permission_denied")
    assert_error(anon.get(STOCK), 401, "not_authenticated")


def test_a_second_record_for_the_same_product_and_warehouse_is_a_409(client_for, charlie, make_product, stock):
    product = make_product()
    existing = stock(product, 5)

    response = client_for(charlie).post(
        STOCK, {"product": product.id, "warehouse": existing.warehouse_id, "quantity": 9}
    )

    assert_error(response, 409, "exists")
    assert Stock.objects.get().quantity == 5


def test_stock_of_an_unknown_product_is_a_400(client_for, charlie, make_warehouse):
    response = client_for(charlie).post(STOCK, {"product": 999999, "warehouse": make_warehouse().id, "quantity": 1})

    error = assert_error(response, 400, "invalid")
    assert list(error["fields"]) == ["product"]
    assert not Stock.objects.exists()


def test_a_negative_or_non_numeric_quantity_is_a_400(client_for, charlie, make_product, make_warehouse):
    client = client_for(charlie)
    for quantity in (-1, "lots", 1.5):
        response = client.post(
            STOCK, {"product": make_product().id, "warehouse": make_warehouse().id, "quantity": quantity}
        )
        assert_error(response, 400, "invalid")
    assert not Stock.objects.exists()


def test_a_stock_record_without_a_quantity_is_a_400_naming_it(client_for, charlie, make_product, make_warehouse):
    response = client_for(charlie).post(STOCK, {"product": make_product().id, "warehouse": make_warehouse().id})

    error = assert_error(response, 400, "invalid")
    assert error["fields"] == {"quantity": ["This field is required."]}
    assert not Stock.objects.exists()


def test_staff_change_the_quantity_on_hand(client_for, charlie, make_product, stock):
    record = stock(make_product(), 5)

    response = client_for(charlie).patch(f"{STOCK}{record.id}/", {"quantity": 20})

    assert response.status_code == 200
    assert response.json()["available"] == 20


def test_stock_cannot_drop_below_what_is_reserved(client_for, charlie, alice, make_product, stock):
    product = make_product()
    record = stock(product, 5)
    client_for(alice).post("/api/orders/", {"lines": [{"product": product.id, "quantity": 4}]})

    error = assert_error(client_for(charlie).patch(f"{STOCK}{record.id}/", {"quantity": 3}), 409, "below_reserved")

    assert list(error["fields"]) == ["quantity"]
    record.refresh_from_db()
    assert record.quantity == 5


def test_stock_can_be_filtered_by_product(client_for, charlie, make_product, stock):
    first, second = make_product(), make_product()
    stock(first, 1)
    stock(second, 2)

    listed = client_for(charlie).get(STOCK, {"product": second.id}).json()

    assert [s["quantity"] for s in listed["results"]] == [2]
