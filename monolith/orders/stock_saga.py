"""The order saga: placing, cancelling and shipping an order while the inventory service owns the stock
(docs/seam.md, "the order saga"). The order lives in the monolith's database, its stock in the service's; no
transaction spans both, so each change goes through the outbox `StockHold`:

    reserve ──order committed──► attach ──► done ──cancel──► release ──► done
       │                                      └────ship────► fulfil ───► done
       └──order not committed (error, crash, timeout)──► abandon ──► done

- `place`: the `reserve` row commits before the service is asked, so a crash after the service reserved leaves a
  row that says so. The order's transaction moves it to `attach` only if it is still `reserve` (a conditional
  update, which waits on a concurrent recovery's and loses to it); an order that fails releases its hold at once.
- `owe`: a cancel or ship writes its step in the order's own transaction.
- `settle`: carries a row's step out (each may be repeated) and sets `done` only if nobody moved the step meanwhile;
  a failure leaves the row for `sweep`.
- `sweep`: the recovery. Rows left in `reserve` longer than the grace are abandoned (their order never committed:
  recovery won the conditional update), and rows owing a step are settled. `manage.py recover_stock_holds` runs it
  before the monolith serves; `maybe_sweep` runs it, at most every SWEEP_EVERY_S per process, after an order.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from common.errors import DomainError, Unavailable
from inventory import services as inventory_services
from orders.models import Order, StockHold

Step = StockHold.Step
OWED = (Step.ATTACH, Step.RELEASE, Step.FULFIL, Step.ABANDON)
SWEEP_EVERY_S = 10.0
SWEEP_BATCH = 50

logger = logging.getLogger(__name__)


class HoldGivenUp(Unavailable):
    """Recovery abandoned the hold while its order was being written (it waited longer than the grace)."""


def place(*, lines: dict[int, int], write_order: Callable[[], Order]) -> Order:
    """Hold `lines` at the service, then write the order with `write_order` (in a transaction opened here)."""
    hold = StockHold.objects.create(
        key=uuid.uuid4().hex, lines={str(p): q for p, q in lines.items()}, step=Step.RESERVE
    )
    try:
        reservation_ids = inventory_services.order_stock_hold(key=hold.key, lines=lines)
    except Unavailable:
        # Whether the service reserved is unknown: give the hold up (the service refuses it if it arrives later).
        _abandon(hold.id)
        raise
    except DomainError:
        StockHold.objects.filter(id=hold.id, step=Step.RESERVE).update(step=Step.DONE, updated_at=timezone.now())
        raise  # not enough stock: the service held nothing
    try:
        with transaction.atomic():
            order = write_order()
            moved = StockHold.objects.filter(id=hold.id, step=Step.RESERVE).update(
                step=Step.ATTACH, order=order, reservation_ids=reservation_ids, updated_at=timezone.now()
            )
            if not moved:
                raise HoldGivenUp("The stock for this order was given up while it was placed; nothing was ordered.")
    except BaseException:
        StockHold.objects.filter(id=hold.id, step=Step.RESERVE).update(reservation_ids=reservation_ids)
        _abandon(hold.id)
        raise
    settle(hold.id)
    return order


def owe(*, order: Order, step: str) -> int:
    """Record, in the caller's transaction, that `order`'s stock must be released or fulfilled; the row's id."""
    hold = StockHold.objects.select_for_update().filter(order=order).first()
    if hold is None:  # an order placed while the monolith kept the stock: its reservations carry its id already
        hold = StockHold.objects.create(key=uuid.uuid4().hex, order=order, step=step, attached=True)
    else:
        hold.step = step
        hold.save(update_fields=["step", "updated_at"])
    return hold.id


def settle(hold_id: int) -> bool:
    """Carry out the step `hold_id` owes; True when it is done. A failure is logged and left for `sweep`."""
    hold = StockHold.objects.get(id=hold_id)
    step = hold.step
    if step not in OWED:
        return True
    try:
        _carry_out(hold)
    except DomainError as exc:
        StockHold.objects.filter(id=hold.id).update(
            attempts=hold.attempts + 1, last_error=exc.message[:1000], updated_at=timezone.now()
        )
        logger.warning("stock hold %s: %s left for recovery: %s", hold.key, step, exc.message)
        return False
    return bool(StockHold.objects.filter(id=hold.id, step=step).update(step=Step.DONE, last_error=""))


def _carry_out(hold: StockHold) -> None:
    if hold.step == Step.ABANDON:
        inventory_services.order_stock_abandon(key=hold.key, reservation_ids=hold.reservation_ids)
        return
    assert hold.order_id is not None
    if not hold.attached:
        inventory_services.order_stock_attach(
            key=hold.key, order_id=hold.order_id, reservation_ids=hold.reservation_ids or []
        )
        StockHold.objects.filter(id=hold.id).update(attached=True)
    if hold.step == Step.RELEASE:
        inventory_services.order_stock_release(order_id=hold.order_id)
    elif hold.step == Step.FULFIL:
        inventory_services.order_stock_fulfil(order_id=hold.order_id)


def _abandon(hold_id: int) -> None:
    StockHold.objects.filter(id=hold_id, step=Step.RESERVE).update(step=Step.ABANDON, updated_at=timezone.now())
    settle(hold_id)


@dataclass(frozen=True)
class Swept:
    abandoned: int  # holds whose order never committed
    settled: int  # steps carried out
    left: int  # steps that failed again (the service still cannot answer)


def sweep(*, grace_s: float, limit: int | None = None) -> Swept:
    """Finish what crashed or failed requests left: see the module's docstring."""
    cutoff = timezone.now() - timedelta(seconds=grace_s)
    stale = list(
        StockHold.objects.filter(step=Step.RESERVE, created_at__lte=cutoff).values_list("id", flat=True)[:limit]
    )
    abandoned = 0
    for hold_id in stale:
        # Loses to an order's transaction that moved it to `attach` first (the update waits for it, then matches
        # nothing); wins otherwise, and that order's own conditional update then fails.
        abandoned += StockHold.objects.filter(id=hold_id, step=Step.RESERVE).update(
            step=Step.ABANDON, updated_at=timezone.now()
        )
    owed = StockHold.objects.filter(Q(updated_at__lte=cutoff) | Q(id__in=stale), step__in=OWED).order_by("id")
    settled = left = 0
    for hold_id in owed.values_list("id", flat=True)[:limit]:
        if settle(hold_id):
            settled += 1
        else:
            left += 1
    return Swept(abandoned=abandoned, settled=settled, left=left)


_last_sweep = 0.0
_sweep_lock = threading.Lock()


def maybe_sweep() -> None:
    """The lazy half of recovery: a sweep of up to SWEEP_BATCH rows, at most every SWEEP_EVERY_S per process."""
    global _last_sweep
    now = time.monotonic()
    with _sweep_lock:
        if now - _last_sweep < SWEEP_EVERY_S:
            return
        _last_sweep = now
    try:
        swept = sweep(grace_s=settings.INVENTORY_SAGA_GRACE_S, limit=SWEEP_BATCH)
    except Exception:
        # The request it follows has succeeded; the sweep's own failure must not turn that into an error.
        logger.exception("sweeping the stock holds failed; the next sweep tries again")
        return
    if swept.abandoned or swept.settled or swept.left:
        logger.info("stock holds swept: %s", swept)
