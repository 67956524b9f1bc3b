from common.testing import assert_error
from inventory.models import Warehouse

WAREHOUSES = "/api/inventory/warehouses/"


def test_staff_create_and_list_warehouses(client_for, charlie):
    client = client_for(charlie)
    response = client.post(WAREHOUSES, {"code": "BER-1", "name": "Berlin", "city": "Berlin", "country": "DE"})

    assert response.status_code == 201, response.content
    assert [w["code"] for w in client.get(WAREHOUSES).json()["results"]] == ["BER-1"]


def test_customers_cannot_see_warehouses(client_for, alice, make_warehouse):
    make_warehouse()
    assert_error(client_for(alice).get(WAREHOUSES), 403, "permission_denied")


def test_a_duplicate_code_is_a_400(client_for, charlie, make_warehouse):
    make_warehouse(code="BER-1")

    response = client_for(charlie).post(WAREHOUSES, {"code": "BER-1", "name": "B", "city": "B", "country": "DE"})

    assert_error(response, 400, "invalid")
    assert Warehouse.objects.count() == 1


def test_a_warehouse_holding_stock_cannot_be_deleted(client_for, charlie, make_product, stock):
    record = stock(make_product(), 3)

    assert_error(client_for(charlie).delete(f"{WAREHOUSES}{record.warehouse_id}/"), 409, "in_use")
    assert Warehouse.objects.filter(id=record.warehouse_id).exists()
