"""Writes to inventory: stock levels, and reservations that hold stock for orders until they ship or cancel."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import F, ProtectedError, Sum

from catalog import selectors as catalog_selectors
from common.errors import Conflict, InvalidInput, NotFound, Unavailable
from inventory import seam
from inventory.models import Reservation, Stock, Warehouse

WAREHOUSE_FIELDS = {"code", "name", "city", "country", "active"}


@transaction.atomic
def warehouse_create(*, code: str, name: str, city: str, country: str, active: bool = True) -> Warehouse:
    _require_ownership()
    warehouse = Warehouse(code=code, name=name, city=city, country=country, active=active)
    warehouse.full_clean()
    warehouse.save()
    return warehouse


@transaction.atomic
def warehouse_update(*, warehouse: Warehouse, data: dict[str, Any]) -> Warehouse:
    _require_ownership()
    for name in (n for n in data if n in WAREHOUSE_FIELDS):
        setattr(warehouse, name, data[name])
    warehouse.full_clean()
    warehouse.save()
    return warehouse


@transaction.atomic
def warehouse_delete(*, warehouse: Warehouse) -> None:
    _require_ownership()
    try:
        warehouse.delete()
    except ProtectedError as exc:
        raise Conflict(
            "The warehouse still holds stock or reservations; deactivate it instead.", code="in_use"
        ) from exc


def stock_create(*, product_id: int, warehouse: Warehouse, quantity: int) -> Stock:
    _require_ownership()
    _require_product(product_id)
    return _stock_write(product_id, warehouse, quantity)


@transaction.atomic
def _stock_write(product_id: int, warehouse: Warehouse, quantity: int) -> Stock:
    if Stock.objects.filter(product_id=product_id, warehouse=warehouse).exists():
        raise Conflict("This warehouse already has a stock record for the product; change its quantity.", code="exists")
    return Stock.objects.create(product_id=product_id, warehouse=warehouse, quantity=quantity)


@transaction.atomic
def stock_set_quantity(*, stock: Stock, quantity: int) -> Stock:
    _require_ownership()
    stock = Stock.objects.select_for_update().get(id=stock.id)
    reserved = _reserved(product_id=stock.product_id, warehouse_id=stock.warehouse_id)
    if quantity < reserved:
        raise Conflict(
            f"{reserved} units are reserved; on-hand stock cannot go below that.",
            code="below_reserved",
            fields={"quantity": [f"Must be at least {reserved}."]},
        )
    stock.quantity = quantity
    stock.save(update_fields=["quantity", "updated_at"])
    return stock


@transaction.atomic
def stock_delete(*, stock: Stock) -> None:
    _require_ownership()
    # Locked before the reservations are counted, as every reservation locks it before it counts what is free: a
    # reservation being made for this stock commits first and is seen here, or waits and then finds no stock.
    locked = Stock.objects.select_for_update().filter(id=stock.id).first()
    if locked is None:  # a concurrent delete won
        raise NotFound("Not found.")
    if _reserved(product_id=locked.product_id, warehouse_id=locked.warehouse_id):
        raise Conflict("Units of this stock are reserved.", code="in_use")
    locked.delete()


def reservation_create(
    *, product_id: int, warehouse: Warehouse, quantity: int, order_id: int | None = None
) -> Reservation:
    """Hold `quantity` units in one warehouse, e.g. for a phone order taken by staff."""
    _require_ownership()
    _require_product(product_id)
    return _reservation_write(product_id, warehouse, quantity, order_id)


@transaction.atomic
def _reservation_write(product_id: int, warehouse: Warehouse, quantity: int, order_id: int | None) -> Reservation:
    stock = Stock.objects.select_for_update().filter(product_id=product_id, warehouse=warehouse).first()
    free = stock.quantity - _reserved(product_id=product_id, warehouse_id=warehouse.id) if stock else 0
    if quantity > free:
        raise Conflict(f"Only {free} units are free in {warehouse.code}.", code="insufficient_stock")
    return Reservation.objects.create(product_id=product_id, warehouse=warehouse, quantity=quantity, order_id=order_id)


@transaction.atomic
def reservation_release(*, reservation: Reservation) -> Reservation:
    _require_ownership()
    reservation = Reservation.objects.select_for_update().get(id=reservation.id)
    if reservation.status != Reservation.Status.ACTIVE:
        raise Conflict(f"The reservation is already {reservation.status}.", code="invalid_transition")
    reservation.status = Reservation.Status.RELEASED
    reservation.save(update_fields=["status", "updated_at"])
    return reservation


@transaction.atomic
def stock_reserve_for_order(*, order_id: int, lines: Iterable[tuple[int, int]]) -> None:
    """Reserve each (product_id, quantity) from the active warehouses with the most free units first.

    Stock rows are locked in product then warehouse order, the same order for every caller, so two orders
    for overlapping products cannot deadlock; either all lines are reserved or none is.
    """
    wanted = dict(lines)
    stocks = list(
        Stock.objects.select_for_update(of=("self",))
        .filter(product_id__in=wanted, warehouse__active=True)
        .order_by("product_id", "warehouse_id")
    )
    reserved = _reserved_by_stock(product_ids=wanted)
    shortages: dict[int, int] = {}
    new: list[Reservation] = []
    for product_id, quantity in sorted(wanted.items()):
        candidates = [s for s in stocks if s.product_id == product_id]
        free = {s.warehouse_id: s.quantity - reserved.get((product_id, s.warehouse_id), 0) for s in candidates}
        remaining = quantity
        for warehouse_id in sorted(free, key=lambda w: (-free[w], w)):
            take = min(remaining, free[warehouse_id])
            if take > 0:
                new.append(
                    Reservation(product_id=product_id, warehouse_id=warehouse_id, quantity=take, order_id=order_id)
                )
                remaining -= take
        if remaining:
            shortages[product_id] = quantity - remaining
    if shortages:
        detail = ", ".join(f"product {pid}: {free} available" for pid, free in sorted(shortages.items()))
        raise Conflict(f"Not enough stock ({detail}).", code="insufficient_stock")
    Reservation.objects.bulk_create(new)


@transaction.atomic
def stock_release_for_order(*, order_id: int) -> int:
    return Reservation.objects.filter(order_id=order_id, status=Reservation.Status.ACTIVE).update(
        status=Reservation.Status.RELEASED
    )


@transaction.atomic
def stock_fulfil_for_order(*, order_id: int) -> int:
    """The order left the warehouse: its reserved units leave the on-hand stock."""
    reservations = list(
        Reservation.objects.select_for_update().filter(order_id=order_id, status=Reservation.Status.ACTIVE)
    )
    for reservation in reservations:
        Stock.objects.filter(product_id=reservation.product_id, warehouse_id=reservation.warehouse_id).update(
            quantity=F("quantity") - reservation.quantity
        )
    Reservation.objects.filter(id__in=[r.id for r in reservations]).update(status=Reservation.Status.FULFILLED)
    return len(reservations)


# --- the order saga's steps (docs/seam.md): each may be repeated, and goes to whichever side owns inventory now --


def order_stock_hold(*, key: str, lines: dict[int, int]) -> list[int]:
    """Reserve every line or none on the inventory service, under `key`; the reservations' ids. Only while the
    service owns inventory (the monolith's own path reserves inside the order's transaction)."""
    return seam.inventory_service().hold(key=key, lines=lines)


def order_stock_attach(*, key: str, order_id: int, reservation_ids: list[int]) -> None:
    if seam.service_owns_inventory():
        seam.inventory_service().attach(key=key, order_id=order_id)
    else:  # rolled back since: the reverse sync brought the hold's reservations here, with these ids
        Reservation.objects.filter(id__in=reservation_ids).update(order_id=order_id)


def order_stock_abandon(*, key: str, reservation_ids: list[int] | None) -> None:
    """Release a hold whose order was never placed. `reservation_ids` is None when its answer never arrived."""
    if seam.service_owns_inventory():
        seam.inventory_service().release_hold(key=key)
    elif reservation_ids is not None:
        Reservation.objects.filter(id__in=reservation_ids, status=Reservation.Status.ACTIVE).update(
            status=Reservation.Status.RELEASED
        )
    else:
        raise Unavailable(
            "A stock hold of the inventory service is undecided, and the monolith owns inventory again: only the "
            "service knows what it holds. Hand inventory to the service (or release its orphan by hand)."
        )


def order_stock_release(*, order_id: int) -> None:
    if seam.service_owns_inventory():
        seam.inventory_service().release_order(order_id=order_id)
    else:
        stock_release_for_order(order_id=order_id)


def order_stock_fulfil(*, order_id: int) -> None:
    if seam.service_owns_inventory():
        seam.inventory_service().fulfil_order(order_id=order_id)
    else:
        stock_fulfil_for_order(order_id=order_id)


def _require_ownership() -> None:
    """From cutover on the monolith's inventory tables are the reverse sync's copy: a write there would be
    overwritten, or would make `strangler data retire` refuse (the catalog's rule, docs/seam.md §2)."""
    if seam.service_owns_inventory():
        raise Unavailable(
            "The inventory service owns inventory now: the monolith's copy takes no writes; send them through the "
            "proxy, which routes /api/inventory to the service."
        )


def _require_product(product_id: int) -> None:
    """Asked before a transaction opens: the catalog may be a network call away (docs/seam.md), which must not hold
    the database's write lock, and which may refuse (503) with nothing written."""
    if not catalog_selectors.product_exists(product_id=product_id, active_only=False):
        raise InvalidInput("Unknown product.", fields={"product": [f"No product with id {product_id}."]})


def _reserved(*, product_id: int, warehouse_id: int) -> int:
    total = Reservation.objects.filter(
        product_id=product_id, warehouse_id=warehouse_id, status=Reservation.Status.ACTIVE
    ).aggregate(total=Sum("quantity"))["total"]
    return int(total or 0)


def _reserved_by_stock(*, product_ids: Iterable[int]) -> dict[tuple[int, int], int]:
    rows = (
        Reservation.objects.filter(product_id__in=list(product_ids), status=Reservation.Status.ACTIVE)
        .values_list("product_id", "warehouse_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    return {(product_id, warehouse_id): total for product_id, warehouse_id, total in rows}
