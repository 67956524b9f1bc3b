"""Placing orders and moving them through their lifecycle.

    pending ──pay──► paid ──ship──► shipped
       │               │
       └──cancel──►  cancelled  ◄──cancel──┘

Placing an order prices and names its lines from the catalog (its public interface, answered by whichever side
owns the catalog) and reserves stock; shipping turns the reservations into stock that left; cancelling releases
them. Each step happens in one transaction with the order row locked, so two concurrent transitions of the same
order cannot both succeed.

While the monolith keeps the stock, the reservations are written in that same transaction. Once the inventory
service owns it (the engine's record), no transaction spans both databases: the stock goes through the order saga
(`orders.stock_saga`, docs/seam.md), an outbox in this database and idempotent calls to the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from catalog import selectors as catalog_selectors
from common.errors import Conflict, InvalidInput
from customers import selectors as customer_selectors
from inventory import selectors as inventory_selectors
from inventory import services as inventory_services
from orders import stock_saga
from orders.models import Order, OrderLine, StockHold

Status = Order.Status

TRANSITIONS: dict[str, set[str]] = {
    Status.PENDING: {Status.PAID, Status.CANCELLED},
    Status.PAID: {Status.SHIPPED, Status.CANCELLED},
    Status.SHIPPED: set(),
    Status.CANCELLED: set(),
}


@dataclass(frozen=True)
class LineRequest:
    product_id: int
    quantity: int


def order_create(*, customer_id: int, lines: Sequence[LineRequest], shipping_address_id: int | None = None) -> Order:
    if not lines:
        raise InvalidInput("An order needs at least one line.", fields={"lines": ["This list may not be empty."]})
    # Asked before the transaction opens: the catalog may be a network call away (docs/seam.md), which must not
    # hold the database's write lock (SQLite takes it at BEGIN), and which may refuse (503) with nothing written.
    quotes = catalog_selectors.product_price_quotes(product_ids=[line.product_id for line in lines])
    _check_lines(lines, quotes)
    if not inventory_selectors.service_owns_inventory():
        with transaction.atomic():
            order = _order_write(customer_id, lines, quotes, shipping_address_id)
            inventory_services.stock_reserve_for_order(
                order_id=order.id, lines=[(line.product_id, line.quantity) for line in lines]
            )
        return order
    order = stock_saga.place(
        lines={line.product_id: line.quantity for line in lines},
        write_order=lambda: _order_write(customer_id, lines, quotes, shipping_address_id),
    )
    stock_saga.maybe_sweep()
    return order


def _order_write(
    customer_id: int,
    lines: Sequence[LineRequest],
    quotes: dict[int, catalog_selectors.PriceQuote],
    shipping_address_id: int | None,
) -> Order:
    if shipping_address_id is not None and not customer_selectors.address_belongs_to(
        address_id=shipping_address_id, customer_id=customer_id
    ):
        # Someone else's address reads exactly like a missing one: ids of other customers stay opaque.
        raise InvalidInput(
            "Unknown shipping address.", fields={"shipping_address": [f"No address with id {shipping_address_id}."]}
        )
    currency = quotes[lines[0].product_id].currency
    total = sum((quotes[line.product_id].price * line.quantity for line in lines), Decimal("0.00"))
    order = Order.objects.create(
        customer_id=customer_id, currency=currency, total=total, shipping_address_id=shipping_address_id
    )
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            product_id=line.product_id,
            name=quotes[line.product_id].name,
            quantity=line.quantity,
            unit_price=quotes[line.product_id].price,
        )
        for line in lines
    )
    return order


def _check_lines(lines: Sequence[LineRequest], quotes: dict[int, catalog_selectors.PriceQuote]) -> None:
    errors: list[dict[str, list[str]]] = []
    seen: set[int] = set()
    for line in lines:
        quote = quotes.get(line.product_id)
        if quote is None or not quote.active:
            errors.append({"product": [f"No product with id {line.product_id} is for sale."]})
        elif line.product_id in seen:
            errors.append({"product": ["This product is already on another line; raise its quantity instead."]})
        else:
            errors.append({})
        seen.add(line.product_id)
    if any(errors):
        raise InvalidInput("Some order lines are invalid.", fields={"lines": errors})  # type: ignore[dict-item]
    currencies = {quotes[line.product_id].currency for line in lines}
    if len(currencies) > 1:
        raise InvalidInput(
            "All lines of an order must be in one currency.",
            fields={"lines": [f"Mixed currencies: {', '.join(sorted(currencies))}."]},
        )


@transaction.atomic
def order_pay(*, order: Order) -> Order:
    order = _transition(order, Status.PAID)
    order.paid_at = timezone.now()
    order.save(update_fields=["status", "paid_at", "updated_at"])
    return order


def order_ship(*, order: Order) -> Order:
    return _move_with_stock(order, Status.SHIPPED, "shipped_at", StockHold.Step.FULFIL)


def order_cancel(*, order: Order) -> Order:
    return _move_with_stock(order, Status.CANCELLED, "cancelled_at", StockHold.Step.RELEASE)


def _move_with_stock(order: Order, target: str, stamp: str, step: str) -> Order:
    """Ship (fulfil the stock) or cancel (release it): in the order's transaction while the monolith keeps the
    stock; else the transaction records the step owed to the service (the outbox) and it is carried out after."""
    remote = inventory_selectors.service_owns_inventory()
    with transaction.atomic():
        order = _transition(order, target)
        setattr(order, stamp, timezone.now())
        order.save(update_fields=["status", stamp, "updated_at"])
        if not remote:
            if step == StockHold.Step.FULFIL:
                inventory_services.stock_fulfil_for_order(order_id=order.id)
            else:
                inventory_services.stock_release_for_order(order_id=order.id)
            return order
        hold_id = stock_saga.owe(order=order, step=step)
    stock_saga.settle(hold_id)  # a failure is left in the outbox: the order has moved either way
    stock_saga.maybe_sweep()
    return order


def _transition(order: Order, target: str) -> Order:
    locked = Order.objects.select_for_update().get(id=order.id)
    if target not in TRANSITIONS[locked.status]:
        raise Conflict(
            f"A {locked.status} order cannot become {target}.",
            code="invalid_transition",
        )
    locked.status = target
    return locked
