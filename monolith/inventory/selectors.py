"""Reads of inventory. `available` is on-hand stock minus active reservations, computed on every read."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from inventory import seam
from inventory.models import Reservation, Stock, Warehouse


def warehouse_list() -> QuerySet[Warehouse]:
    return Warehouse.objects.all()


def _reserved_subquery() -> Subquery:
    reserved = (
        Reservation.objects.filter(
            product_id=OuterRef("product_id"),
            warehouse_id=OuterRef("warehouse_id"),
            status=Reservation.Status.ACTIVE,
        )
        .order_by()
        .values("product_id", "warehouse_id")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    return Subquery(reserved)


def stock_list() -> QuerySet[Stock]:
    return Stock.objects.annotate(reserved=Coalesce(_reserved_subquery(), Value(0))).annotate(
        available=F("quantity") - F("reserved")
    )


def reservation_list() -> QuerySet[Reservation]:
    return Reservation.objects.all()


def available_by_product(*, product_ids: Iterable[int]) -> dict[int, int]:
    """Units free to sell per product across active warehouses; products without stock map to 0."""
    ids = set(product_ids)
    totals = dict.fromkeys(ids, 0)
    rows = stock_list().filter(product_id__in=ids, warehouse__active=True).values_list("product_id", "available")
    for product_id, available in rows:
        totals[product_id] += max(available, 0)
    return totals


def service_owns_inventory() -> bool:
    """Whether the inventory service keeps the stock now (the engine's record): orders then run the saga."""
    return seam.service_owns_inventory()
