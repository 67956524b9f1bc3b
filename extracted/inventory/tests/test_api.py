"""The inventory API end to end on the service: what staff do, what customers and nobody may not, and the
catalog asked about products (as the caller for staff writes, as nobody for availability)."""

from conftest import PUBLIC_HOST, assert_error

WAREHOUSES = "/api/inventory/warehouses/"
STOCK = "/api/inventory/stock/"
RESERVATIONS = "/api/inventory/reservations/"


def test_staff_create_list_change_and_delete_a_warehouse(client_for):
    staff = client_for("charlie")
    created = staff.post(WAREHOUSES, json={"code": " BER-1 ", "name": "Berlin", "city": "Berlin", "country": "DE"})
    assert created.status_code == 201, created.text
    warehouse = created.json()
    assert warehouse["code"] == "BER-1" and warehouse["active"] is True
    assert warehouse["created_at"].endswith("Z")

    assert [w["code"] for w in staff.get(WAREHOUSES).json()["results"]] == ["BER-1"]
    changed = staff.patch(f"{WAREHOUSES}{warehouse['id']}/", json={"active": False})
    assert changed.json()["active"] is False
    assert staff.get(WAREHOUSES, params={"active": "false"}).json()["count"] == 1
    assert staff.delete(f"{WAREHOUSES}{warehouse['id']}/").status_code == 204
    assert_error(staff.get(f"{WAREHOUSES}{warehouse['id']}/"), 404, "not_found")


def test_a_duplicate_code_and_bad_fields_are_400s_naming_each_field(client_for, warehouse):
    warehouse("BER-1")
    staff = client_for("charlie")

    error = assert_error(
        staff.post(WAREHOUSES, json={"code": "BER-1", "name": "", "city": "x", "country": "de"}), 400, "invalid"
    )

    assert error["message"] == "Invalid input: code, country, name."
    assert list(error["fields"]) == ["code", "name", "country"]


def test_a_stock_record_without_a_quantity_is_a_400_naming_it(client_for, warehouse, catalog, db):
    response = client_for("charlie").post(STOCK, json={"product": 101, "warehouse": warehouse()})

    error = assert_error(response, 400, "invalid")
    assert error["message"] == "Invalid input: quantity."
    assert error["fields"] == {"quantity": ["This field is required."]}
    assert db.execute("SELECT count(*) AS n FROM inventory_stock").fetchone() == (0,)


def test_a_warehouse_holding_stock_cannot_be_deleted(client_for, stock, warehouse):
    depot = warehouse()
    stock(101, 3, depot)
    assert_error(client_for("charlie").delete(f"{WAREHOUSES}{depot}/"), 409, "in_use")


def test_stock_of_a_product_the_catalog_does_not_have_is_a_400_and_staff_may_stock_an_inactive_one(
    client_for, warehouse, catalog
):
    depot = warehouse()
    staff = client_for("charlie")

    unknown = staff.post(STOCK, json={"product": 999, "warehouse": depot, "quantity": 1})
    inactive = staff.post(STOCK, json={"product": 201, "warehouse": depot, "quantity": 1})

    assert assert_error(unknown, 400, "invalid")["fields"] == {"product": ["No product with id 999."]}
    assert inactive.status_code == 201, inactive.text
    assert inactive.json() | {"id": 0, "created_at": "", "updated_at": ""} == {
        "id": 0,
        "product": 201,
        "warehouse": depot,
        "quantity": 1,
        "reserved": 0,
        "available": 1,
        "created_at": "",
        "updated_at": "",
    }
    assert "/api/catalog/products/201/" in catalog.calls


def test_stock_cannot_drop_below_what_is_reserved(client_for, stock, warehouse):
    depot = warehouse()
    record = stock(101, 5, depot)
    staff = client_for("charlie")
    assert staff.post(RESERVATIONS, json={"product": 101, "warehouse": depot, "quantity": 4}).status_code == 201

    error = assert_error(staff.patch(f"{STOCK}{record}/", json={"quantity": 3}), 409, "below_reserved")

    assert error["fields"] == {"quantity": ["Must be at least 4."]}
    assert staff.get(f"{STOCK}{record}/").json()["available"] == 1


def test_availability_counts_active_warehouses_and_only_active_products(client_for, stock, warehouse):
    stock(101, 3)
    stock(101, 4)
    stock(101, 9, warehouse("CLOSED", active=False))
    stock(201, 5)
    anyone = client_for(None)

    assert anyone.get("/api/inventory/availability/101/").json() == {"product": 101, "available": 7}
    assert_error(client_for("charlie").get("/api/inventory/availability/201/"), 404, "not_found")
    assert_error(anyone.get("/api/inventory/availability/424242/"), 404, "not_found")


def test_the_catalog_unreachable_is_a_503_and_nothing_is_written(client_for, db, stock, warehouse, catalog):
    depot = warehouse()
    stock(103, 5, depot)  # 103 is asked about only here: no remembered answer
    catalog.answer_with = 500

    response = client_for("charlie").post(RESERVATIONS, json={"product": 103, "warehouse": depot, "quantity": 1})

    assert_error(response, 503, "catalog_unavailable")
    assert db.execute("SELECT count(*) FROM inventory_reservation").fetchone()[0] == 0


def test_pages_link_to_each_other_with_the_query_kept(client_for, warehouse):
    for n in range(5):
        warehouse(f"WH-{n}")
    staff = client_for("charlie")

    second = staff.get(WAREHOUSES, params={"page_size": "2", "page": "2", "ordering": "-code"}).json()

    assert [w["code"] for w in second["results"]] == ["WH-2", "WH-1"]
    assert second["next"] == f"http://{PUBLIC_HOST}{WAREHOUSES}?ordering=-code&page=3&page_size=2"
    assert second["previous"] == f"http://{PUBLIC_HOST}{WAREHOUSES}?ordering=-code&page_size=2"
    assert_error(staff.get(WAREHOUSES, params={"page": "9"}), 404, "not_found")
    assert_error(staff.get(WAREHOUSES, params={"page_size": "101"}), 400, "invalid")


def test_methods_an_endpoint_does_not_take_are_405s_after_the_permission_check(client_for):
    assert_error(client_for("charlie").delete(RESERVATIONS), 405, "method_not_allowed")
    assert_error(client_for(None).delete(RESERVATIONS), 401, "not_authenticated")
    response = client_for("charlie").put(f"{STOCK}1/", json={})
    assert response.headers["allow"] == "GET, PATCH, DELETE, HEAD, OPTIONS"


def test_an_unknown_api_path_is_the_json_404_and_an_unknown_host_a_400(client_for):
    assert assert_error(client_for(None).get("/api/inventory/nope/"), 404)["message"] == (
        "No API endpoint at /api/inventory/nope/."
    )
    other_host = client_for(None, Host="evil.example")
    assert_error(other_host.get("/api/inventory/availability/101/"), 400, "bad_request")
    assert other_host.get("/healthz").json() == {"status": "ok", "database": "ok"}


def test_a_product_the_catalog_did_not_have_is_found_as_soon_as_it_has_it(client_for, catalog):
    from conftest import ACTIVE_PRODUCTS

    anyone = client_for(None)
    assert_error(anyone.get("/api/inventory/availability/104/"), 404, "not_found")
    ACTIVE_PRODUCTS.add(104)
    try:
        assert anyone.get("/api/inventory/availability/104/").json() == {"product": 104, "available": 0}
    finally:
        ACTIVE_PRODUCTS.discard(104)
