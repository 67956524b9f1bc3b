"""Races on stock on PostgreSQL, with real concurrent transactions: deleting a stock record while a reservation of
its units is being made never leaves the reservation without stock. (SQLite admits one writer at a time.)"""

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, transaction

from common.errors import Conflict
from common.testing import assert_error
from inventory import services
from inventory.models import Reservation, Stock

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="row-lock races need PostgreSQL; SQLite admits one writer at a time",
    ),
]

STOCK = "/api/inventory/stock/"
STOCK_LOCK_WAITERS = "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype IN ('transactionid', 'tuple')"


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def waiting_for_a_row_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(STOCK_LOCK_WAITERS)
        return bool(cursor.fetchone()[0])


def in_thread(action: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(action())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_delete_waits_for_a_reservation_being_made_and_then_refuses(client_for, charlie, make_product, stock):
    record = stock(make_product(), 5)
    staff = client_for(charlie)

    with transaction.atomic():
        # The reservation holds the stock row until it commits; the delete, a real request on its own connection,
        # arrives meanwhile and must wait for it rather than judge from the reservations it can see yet.
        services.reservation_create(product_id=record.product_id, warehouse=record.warehouse, quantity=2)
        deleting, answer = in_thread(lambda: staff.delete(f"{STOCK}{record.id}/"))
        wait_for(waiting_for_a_row_lock, "the delete to wait for the reservation's lock")
    deleting.join(30)

    assert not deleting.is_alive()
    assert_error(answer[0], 409, "in_use")
    assert Stock.objects.filter(id=record.id).exists()
    assert Reservation.objects.get().quantity == 2


def test_a_reservation_waits_for_a_delete_under_way_and_then_finds_no_stock(make_product, stock):
    record = stock(make_product(), 5)

    with transaction.atomic():
        services.stock_delete(stock=record)
        reserving, outcome = in_thread(
            lambda: _conflict_code(
                lambda: services.reservation_create(
                    product_id=record.product_id, warehouse=record.warehouse, quantity=2
                )
            )
        )
        wait_for(waiting_for_a_row_lock, "the reservation to wait for the delete's lock")
    reserving.join(30)

    assert not reserving.is_alive()
    assert outcome == ["insufficient_stock"]
    assert not Stock.objects.exists()
    assert not Reservation.objects.exists()


def test_two_deletes_at_once_delete_once_and_the_second_is_a_404(client_for, charlie, make_product, stock):
    record = stock(make_product(), 5)
    staff = client_for(charlie)

    with transaction.atomic():
        services.stock_delete(stock=record)
        deleting, answer = in_thread(lambda: staff.delete(f"{STOCK}{record.id}/"))
        wait_for(waiting_for_a_row_lock, "the second delete to wait for the first")
    deleting.join(30)

    assert not deleting.is_alive()
    assert_error(answer[0], 404, "not_found")
    assert not Stock.objects.exists()


def _conflict_code(action: Callable[[], Any]) -> str:
    try:
        action()
    except Conflict as exc:
        return exc.code
    return "ok"
