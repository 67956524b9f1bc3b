"""Orders across the inventory seam (docs/seam.md, "the order saga"): once the inventory service owns the stock, the
monolith (a real process, on PostgreSQL) places, cancels and ships orders through the service (a real process, on
its own PostgreSQL), with its outbox in its own database. Buyers racing for the last units, a lost answer, a kill -9
between the service's reservation and the order's commit, a service that cannot answer a cancel."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from waiting import wait_for

# The first test also pays for the stack (two databases migrated, a shop seeded, two servers): on a loaded machine
# that alone can take most of the suite's default 180 s.
pytestmark = pytest.mark.timeout(360)

ORDERS = "/api/orders/"
HOLDS = "/internal/inventory/order-holds/"
BUYERS = 16


def order_body(product: int, quantity: int, **extra: object) -> dict[str, object]:
    return {"lines": [{"product": product, "quantity": quantity}], **extra}


def holds_owing(saga) -> list[tuple[str, str]]:
    return saga.monolith_sql("SELECT key, step FROM orders_stockhold WHERE step <> 'done' ORDER BY id")


def orders_of(saga, product: int) -> list[tuple[int, str]]:
    return saga.monolith_sql(
        "SELECT o.id, o.status FROM orders_order o JOIN orders_orderline l ON l.order_id = o.id"
        " WHERE l.product_id = %s ORDER BY o.id",
        (product,),
    )


@pytest.fixture(autouse=True)
def bytes_pass(saga):
    saga.relay.swallowing = saga.relay.dropping = False
    if saga.monolith is None:
        saga.start_monolith()
    yield
    saga.relay.swallowing = saga.relay.dropping = False


def test_sixteen_buyers_of_the_last_ten_units_never_oversell_through_the_seam(saga):
    product = saga.stock("SOCK-0001", 6, 4)
    start = threading.Barrier(BUYERS)

    def buy(i: int) -> httpx.Response:
        with saga.client("alice" if i % 2 else "bob") as client:
            client.get("/healthz")  # connected before the barrier, so the orders really overlap
            start.wait(timeout=30)
            return client.post(ORDERS, json=order_body(product, 1))

    with ThreadPoolExecutor(max_workers=BUYERS) as pool:
        answers = list(pool.map(buy, range(BUYERS)))

    assert sorted(a.status_code for a in answers) == [201] * 10 + [409] * 6, [a.text for a in answers]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {"insufficient_stock"}
    placed = sorted(a.json()["id"] for a in answers if a.status_code == 201)
    assert [order for order, _ in orders_of(saga, product)] == placed  # no order without stock, none lost
    assert sorted(order for _, order in saga.held(product)) == placed  # each unit held once, by its order
    assert holds_owing(saga) == []


def test_a_lost_answer_is_asked_again_with_the_same_key_and_reserves_once(saga):
    product = saga.stock("SOCK-0002", 5)
    asked_before = saga.relay.requests_to(HOLDS)
    saga.relay.swallowing = True

    with ThreadPoolExecutor(max_workers=1) as pool, saga.client("alice") as client:
        placing = pool.submit(client.post, ORDERS, json=order_body(product, 2))
        wait_for(lambda: saga.relay.swallowed, "the service's answer to the hold to be lost")
        saga.relay.swallowing = False
        placed = placing.result(timeout=60)

    assert placed.status_code == 201, placed.text
    assert saga.relay.requests_to(HOLDS) - asked_before >= 2  # asked again after the timeout
    assert saga.held(product) == [(2, placed.json()["id"])]
    keys = saga.service_sql("SELECT count(*) FROM inventory_order_hold WHERE order_id = %s", (placed.json()["id"],))
    assert keys == [(1,)]
    assert holds_owing(saga) == []


def test_kill_9_between_the_reservation_and_the_order_commit_leaves_no_orphan_after_restart(saga):
    product = saga.stock("MUG-00001", 5)
    saga.relay.swallowing = True  # the service reserves; the monolith never learns it, so it cannot commit

    with ThreadPoolExecutor(max_workers=1) as pool, saga.client("alice") as client:
        placing = pool.submit(client.post, ORDERS, json=order_body(product, 3))
        wait_for(lambda: saga.held(product), "the service to reserve")
        saga.kill_monolith()
        with pytest.raises(httpx.TransportError):
            placing.result(timeout=60)
    saga.relay.swallowing = False

    assert saga.held(product) == [(3, None)]  # an orphan, for now: held for no order
    assert [step for _, step in holds_owing(saga)] == ["reserve"]

    saga.start_monolith()  # recovery, then the server

    assert saga.held(product) == []
    assert holds_owing(saga) == []
    assert orders_of(saga, product) == []
    with saga.client("bob") as client:
        assert client.post(ORDERS, json=order_body(product, 5)).status_code == 201  # every unit free again


def test_an_unreachable_service_refuses_the_order_and_its_late_hold_stays_refused(saga):
    product = saga.stock("SOCK-0007", 5)
    saga.relay.dropping = True  # nothing reaches the service: not the hold, not its release

    with saga.client("alice") as client:
        refused = client.post(ORDERS, json=order_body(product, 1))

    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "service_unavailable"
    assert orders_of(saga, product) == []
    assert [step for _, step in holds_owing(saga)] == ["abandon"]  # its release is owed
    saga.relay.dropping = False
    assert json.loads(saga.recover("--json"))["settled"] == 1
    ((key,),) = saga.monolith_sql("SELECT key FROM orders_stockhold ORDER BY id DESC LIMIT 1")
    assert saga.service_sql("SELECT released, status FROM inventory_order_hold WHERE key = %s", (key,)) == [
        (True, None)  # remembered as released: the hold, if it still arrived, would be refused
    ]
    assert saga.held(product) == []


def test_an_order_refused_after_its_hold_gives_the_stock_back_at_once(saga):
    product = saga.stock("SOCK-0003", 4)

    with saga.client("alice") as client:
        refused = client.post(ORDERS, json=order_body(product, 4, shipping_address=999999))

    assert refused.status_code == 400, refused.text
    assert saga.held(product) == []
    assert holds_owing(saga) == []
    assert orders_of(saga, product) == []


def test_cancelling_releases_and_shipping_fulfils_through_the_seam(saga):
    product = saga.stock("SOCK-0004", 10)
    with saga.client("alice") as alice, saga.client("charlie") as staff:
        cancelled = alice.post(ORDERS, json=order_body(product, 3)).json()["id"]
        shipped = alice.post(ORDERS, json=order_body(product, 4)).json()["id"]

        assert alice.post(f"{ORDERS}{cancelled}/cancel/").status_code == 200
        assert alice.post(f"{ORDERS}{shipped}/pay/").status_code == 200
        assert staff.post(f"{ORDERS}{shipped}/ship/").status_code == 200

    statuses = saga.service_sql(
        "SELECT order_id, status, quantity FROM inventory_reservation WHERE product_id = %s ORDER BY order_id",
        (product,),
    )
    assert statuses == [(cancelled, "released", 3), (shipped, "fulfilled", 4)]
    on_hand = saga.service_sql("SELECT quantity FROM inventory_stock WHERE product_id = %s", (product,))
    assert on_hand == [(6,)]
    assert holds_owing(saga) == []


def test_a_cancel_the_service_cannot_answer_is_finished_by_recovery(saga):
    product = saga.stock("SOCK-0006", 5)
    with saga.client("alice") as alice:
        order = alice.post(ORDERS, json=order_body(product, 2)).json()["id"]
        saga.relay.dropping = True  # the service never hears of the cancel

        cancelled = alice.post(f"{ORDERS}{order}/cancel/")

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"  # the order moved
    assert saga.held(product) == [(2, order)]  # the service has not heard yet
    assert [step for _, step in holds_owing(saga)] == ["release"]  # and the outbox says so

    saga.relay.dropping = False
    recovered = json.loads(saga.recover("--json"))

    assert recovered == {"abandoned": 0, "settled": 1, "left": 0, "still_owed": 0}
    assert saga.held(product) == []
    assert holds_owing(saga) == []
