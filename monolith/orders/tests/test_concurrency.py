"""Races on PostgreSQL, with real concurrent transactions: stock is never oversold and an order never takes the
same step twice. (SQLite lets one writer at a time in, so these races cannot happen there.)"""

import threading

import pytest
from django.conf import settings
from django.db import connection

from common.errors import Conflict
from customers import services as customer_services
from inventory import selectors as inventory_selectors
from orders import services
from orders.models import Order

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="row-lock races need PostgreSQL; SQLite admits one writer at a time",
    ),
]


def race(action, contenders: int) -> list[str]:
    """Run `action` in `contenders` threads released at once; return 'ok' or the Conflict code of each."""
    gate = threading.Barrier(contenders)
    outcomes: list[str] = []

    def contender() -> None:
        try:
            gate.wait()
            action()
            outcomes.append("ok")
        except Conflict as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=contender) for _ in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return sorted(outcomes)


def test_customers_racing_for_the_last_units_never_oversell(alice, make_product, stock):
    product = make_product()
    stock(product, 3)
    customer_id = customer_services.customer_id_for_user(user=alice)
    line = services.LineRequest(product_id=product.id, quantity=1)

    outcomes = race(lambda: services.order_create(customer_id=customer_id, lines=[line]), contenders=6)

    assert outcomes == ["insufficient_stock"] * 3 + ["ok"] * 3
    assert inventory_selectors.available_by_product(product_ids=[product.id]) == {product.id: 0}
    assert Order.objects.count() == 3


def test_an_order_paid_twice_at_once_is_paid_once(alice, make_product, stock):
    product = make_product()
    stock(product, 3)
    customer_id = customer_services.customer_id_for_user(user=alice)
    order = services.order_create(
        customer_id=customer_id, lines=[services.LineRequest(product_id=product.id, quantity=1)]
    )

    outcomes = race(lambda: services.order_pay(order=order), contenders=4)

    assert outcomes == ["invalid_transition"] * 3 + ["ok"]
    assert Order.objects.get(id=order.id).status == "paid"
