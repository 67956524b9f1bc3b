"""The order saga's outbox (docs/seam.md §8) while the monolith keeps the stock: nothing is owed, and a step owed
from before a rollback is carried out on the monolith's own tables. The saga against the inventory service itself
is proven end to end (e2e/test_orders_across_the_inventory_seam.py)."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from inventory import selectors as inventory_selectors
from inventory import services as inventory_services
from orders import stock_saga
from orders.models import Order, StockHold

Step = StockHold.Step


@pytest.fixture
def mug(stocked):
    return stocked(quantity=10)


@pytest.fixture
def order(place, alice, mug):
    placed = place(alice, {mug: 3})
    assert placed.status_code == 201, placed.content
    return Order.objects.get(id=placed.json()["id"])


def owed(order, step, **fields):
    return StockHold.objects.create(key=f"key-{order.id}-{step}", order=order, step=step, **fields)


def test_while_the_monolith_keeps_the_stock_nothing_goes_through_the_outbox(client_for, alice, charlie, order):
    client_for(alice).post(f"/api/orders/{order.id}/pay/")
    client_for(charlie).post(f"/api/orders/{order.id}/ship/")

    assert not StockHold.objects.exists()
    assert set(inventory_selectors.reservation_list().values_list("status", flat=True)) == {"fulfilled"}


def test_a_release_owed_from_before_a_rollback_is_carried_out_on_the_monolith(order):
    hold = owed(order, Step.RELEASE, attached=True)

    assert stock_saga.settle(hold.id)

    assert set(inventory_selectors.reservation_list().filter(order_id=order.id).values_list("status", flat=True)) == {
        "released"
    }
    assert StockHold.objects.get(id=hold.id).step == Step.DONE


def test_an_attach_owed_from_before_a_rollback_gives_the_order_its_reservations_by_id(order, mug, make_warehouse):
    warehouse = make_warehouse()
    inventory_services.stock_create(product_id=mug.id, warehouse=warehouse, quantity=2)
    loose = inventory_services.reservation_create(product_id=mug.id, warehouse=warehouse, quantity=2)
    hold = owed(order, Step.ATTACH, reservation_ids=[loose.id])

    assert stock_saga.settle(hold.id)

    loose.refresh_from_db()
    assert loose.order_id == order.id
    assert StockHold.objects.get(id=hold.id).attached


def test_an_abandon_whose_answer_never_arrived_stays_owed_and_says_why(db):
    hold = StockHold.objects.create(key="never-answered", step=Step.ABANDON)

    assert not stock_saga.settle(hold.id)

    hold.refresh_from_db()
    assert (hold.step, hold.attempts) == (Step.ABANDON, 1)
    assert "only the service knows what it holds" in hold.last_error
    with pytest.raises(SystemExit) as exited:
        call_command("recover_stock_holds", "--grace", "0")
    assert exited.value.code == 1


def test_the_sweep_leaves_young_holds_to_the_requests_that_wrote_them(db):
    young = StockHold.objects.create(key="young", step=Step.RESERVE, reservation_ids=[])
    old = StockHold.objects.create(
        key="old", step=Step.RESERVE, reservation_ids=[], created_at=timezone.now() - timedelta(seconds=60)
    )

    swept = stock_saga.sweep(grace_s=30)

    assert swept == stock_saga.Swept(abandoned=1, settled=1, left=0)
    assert StockHold.objects.get(id=young.id).step == Step.RESERVE
    assert StockHold.objects.get(id=old.id).step == Step.DONE
