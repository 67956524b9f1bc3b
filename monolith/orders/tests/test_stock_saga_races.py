"""The order saga against the inventory service (a real process on its own PostgreSQL database) where only the
monolith's own tests can reach: recovery and an order being written meet on the outbox row (docs/seam.md §8).
PostgreSQL runs only: the service needs it, and the race needs two connections to the monolith's database."""

import os
import threading
from decimal import Decimal

import psycopg
import pytest
from django.db import connection

from common.testing_services import IDENTITY_KEY, InventoryService, inventory_service
from customers import services as customer_services
from orders import stock_saga
from orders.models import Order, StockHold
from ownership import services as ownership_services
from ownership.selectors import Owner

PRODUCT = 4242


@pytest.fixture(scope="session")
def inventory(tmp_path_factory):
    if connection.vendor != "postgresql":
        pytest.skip("the inventory service runs on PostgreSQL: this runs with the monolith's PostgreSQL tests")
    # On the server of the monolith's own database (DATABASE_URL), in a database of its own.
    with inventory_service(os.environ["DATABASE_URL"], tmp_path_factory.mktemp("inventory-service")) as running:
        yield running


@pytest.fixture
def service_owns_inventory(transactional_db, settings, inventory: InventoryService) -> InventoryService:
    settings.INVENTORY_SERVICE_URL = inventory.url
    settings.STRANGLER_IDENTITY_KEY = IDENTITY_KEY
    ownership_services.data_owner_record(spec="inventory", owner=Owner.SERVICE)
    with psycopg.connect(inventory.database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE inventory_reservation, inventory_stock, inventory_warehouse, inventory_order_hold")
        (warehouse,) = conn.execute(
            "INSERT INTO inventory_warehouse (code, name, city, country, active, created_at, updated_at)"
            " VALUES ('RACE', 'Race', 'Berlin', 'DE', true, now(), now()) RETURNING id"
        ).fetchone()
        conn.execute(
            "INSERT INTO inventory_stock (product_id, warehouse_id, quantity, created_at, updated_at)"
            " VALUES (%s, %s, 10, now(), now())",
            (PRODUCT, warehouse),
        )
    return inventory


def active_at_the_service(inventory: InventoryService) -> int:
    with psycopg.connect(inventory.database_url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(quantity), 0) FROM inventory_reservation WHERE status = 'active'"
        ).fetchone()
    return int(row[0])


def test_recovery_that_gives_a_hold_up_wins_over_the_order_still_being_written(service_owns_inventory, alice):
    customer = customer_services.customer_id_for_user(user=alice)

    def write_order_while_recovery_runs() -> Order:
        # Recovery, in another process as far as the database can tell, finds the row still `reserve` (the order
        # has not committed) and gives the hold up; only then does this order's transaction reach the row.
        sweeper = threading.Thread(target=lambda: (stock_saga.sweep(grace_s=0), connection.close()))
        sweeper.start()
        sweeper.join(30)
        assert active_at_the_service(service_owns_inventory) == 0  # the service released the hold already
        return Order.objects.create(customer_id=customer, currency="EUR", total=Decimal("1.00"))

    with pytest.raises(stock_saga.HoldGivenUp):
        stock_saga.place(lines={PRODUCT: 3}, write_order=write_order_while_recovery_runs)

    assert not Order.objects.exists()
    assert list(StockHold.objects.values_list("step", flat=True)) == ["done"]
    assert active_at_the_service(service_owns_inventory) == 0


def test_an_order_that_commits_first_keeps_its_hold_and_recovery_leaves_it_alone(service_owns_inventory, alice):
    customer = customer_services.customer_id_for_user(user=alice)

    order = stock_saga.place(
        lines={PRODUCT: 3},
        write_order=lambda: Order.objects.create(customer_id=customer, currency="EUR", total=Decimal("1.00")),
    )
    swept = stock_saga.sweep(grace_s=0)

    assert swept == stock_saga.Swept(abandoned=0, settled=0, left=0)
    assert StockHold.objects.get(order=order).step == "done"
    assert active_at_the_service(service_owns_inventory) == 3
