"""Stock, reservations and availability once the catalog service owns the catalog: products are checked with the
service (a real process); when it cannot answer, a 503 and nothing written, never the monolith's stale copy."""

from __future__ import annotations

from common.testing import assert_error
from inventory.models import Reservation, Stock
from ownership import services as ownership_services
from ownership.selectors import Owner

STOCK = "/api/inventory/stock/"
RESERVATIONS = "/api/inventory/reservations/"


def test_staff_stock_and_reserve_a_product_only_the_service_knows(
    service_owns_the_catalog, service_product, client_for, charlie, anon, make_warehouse
):
    tent = service_product()
    warehouse = make_warehouse()
    staff = client_for(charlie)

    assert staff.post(STOCK, {"product": tent["id"], "warehouse": warehouse.id, "quantity": 5}).status_code == 201
    reserved = staff.post(RESERVATIONS, {"product": tent["id"], "warehouse": warehouse.id, "quantity": 2})

    assert reserved.status_code == 201, reserved.content
    assert anon.get(f"/api/inventory/availability/{tent['id']}/").json() == {"product": tent["id"], "available": 3}
    assert_error(staff.post(STOCK, {"product": 10**12, "warehouse": warehouse.id, "quantity": 1}), 400, "invalid")


def test_when_the_service_is_down_the_monolith_copy_is_not_used_instead(
    service_down, client_for, charlie, anon, make_product, make_warehouse
):
    # A product still in the monolith's tables (made before cutover, kept until retire): a copy that lags the
    # service, so never the answer.
    ownership_services.data_owner_record(spec="catalog", owner=Owner.MONOLITH)
    mug = make_product()
    ownership_services.data_owner_record(spec="catalog", owner=Owner.SERVICE)
    warehouse = make_warehouse()
    staff = client_for(charlie)

    assert_error(staff.post(STOCK, {"product": mug.id, "warehouse": warehouse.id, "quantity": 3}), 503)
    assert_error(staff.post(RESERVATIONS, {"product": mug.id, "warehouse": warehouse.id, "quantity": 1}), 503)
    assert_error(anon.get(f"/api/inventory/availability/{mug.id}/"), 503, "service_unavailable")
    assert not Stock.objects.exists() and not Reservation.objects.exists()
