"""Reads of orders."""

from __future__ import annotations

from django.db.models import QuerySet

from orders.models import Order


def order_list(*, customer_id: int | None, everyone: bool = False) -> QuerySet[Order]:
    """Orders of one customer, or of everyone for staff. A caller with no customer profile sees none."""
    orders = Order.objects.prefetch_related("lines")
    if everyone:
        return orders
    return orders.filter(customer_id=customer_id) if customer_id is not None else orders.none()
