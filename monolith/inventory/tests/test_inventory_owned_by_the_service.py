"""Once the engine records that the inventory service owns inventory, the monolith's inventory tables are the
reverse sync's copy: its own inventory API refuses writes (the proxy sends them to the service) and still reads."""

from __future__ import annotations

import pytest

from common.testing import assert_error
from ownership import services as ownership_services
from ownership.selectors import Owner

WAREHOUSES = "/api/inventory/warehouses/"


@pytest.fixture
def stocked_mug(make_product, stock):
    mug = make_product()
    return mug, stock(mug, 5)


@pytest.fixture
def service_owns_inventory(db):
    ownership_services.data_owner_record(spec="inventory", owner=Owner.SERVICE)


def test_the_monolith_refuses_inventory_writes_while_the_service_owns_inventory(
    stocked_mug, service_owns_inventory, client_for, charlie
):
    mug, stock = stocked_mug
    staff = client_for(charlie)

    refused = [
        staff.post(WAREHOUSES, {"code": "NEW-1", "name": "New", "city": "Bonn", "country": "DE"}),
        staff.patch(f"/api/inventory/stock/{stock.id}/", {"quantity": 9}),
        staff.post("/api/inventory/reservations/", {"product": mug.id, "warehouse": stock.warehouse_id, "quantity": 1}),
        staff.delete(f"/api/inventory/stock/{stock.id}/"),
    ]

    for response in refused:
        error = assert_error(response, 503, "service_unavailable")
        assert "send them through the proxy" in error["message"]
    assert staff.get(f"/api/inventory/stock/{stock.id}/").json()["quantity"] == 5


def test_the_monolith_takes_inventory_writes_again_after_a_rollback(
    stocked_mug, service_owns_inventory, client_for, charlie
):
    _, stock = stocked_mug
    ownership_services.data_owner_record(spec="inventory", owner=Owner.MONOLITH)

    changed = client_for(charlie).patch(f"/api/inventory/stock/{stock.id}/", {"quantity": 9})

    assert changed.status_code == 200 and changed.json()["quantity"] == 9
