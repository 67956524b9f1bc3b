"""/internal/inventory/: the order operations the monolith's saga calls (reserve a hold under a key, attach it to
the order, release or fulfil by order), and who may call them."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import Persona, assert_error, signed

HOLDS = "/internal/inventory/order-holds/"
MONOLITH = Persona(0, "service:monolith", True, "")


@pytest.fixture
def monolith(client_for):
    """The monolith calling with the identity it signs for itself."""
    return client_for(None, **{"X-Strangler-Identity": signed(MONOLITH)})


def active(db, product):
    return db.execute(
        "SELECT coalesce(sum(quantity), 0) FROM inventory_reservation WHERE product_id = %s AND status = 'active'",
        (product,),
    ).fetchone()[0]


def hold(client, key, lines):
    return client.post(HOLDS, json={"key": key, "lines": [{"product": p, "quantity": q} for p, q in lines]})


def test_a_hold_takes_from_the_warehouses_with_the_most_free_units_first(monolith, db, stock, warehouse):
    big, small, closed = warehouse("BIG"), warehouse("SMALL"), warehouse("CLOSED", active=False)
    stock(101, 6, big)
    stock(101, 3, small)
    stock(101, 50, closed)
    stock(102, 2, small)

    answer = hold(monolith, "order-1", [(101, 8), (102, 2)])

    assert answer.status_code == 201, answer.text
    taken = [(r["product"], r["warehouse"], r["quantity"]) for r in answer.json()["reservations"]]
    assert taken == [(101, big, 6), (101, small, 2), (102, small, 2)]
    rows = db.execute("SELECT order_id, status FROM inventory_reservation").fetchall()
    assert rows == [(None, "active")] * 3


def test_a_hold_is_all_lines_or_none(monolith, db, stock):
    stock(101, 5)
    stock(102, 1)

    refused = hold(monolith, "order-2", [(101, 5), (102, 2)])

    error = assert_error(refused, 409, "insufficient_stock")
    assert error["message"] == "Not enough stock (product 102: 1 available)."
    assert active(db, 101) == 0


def test_a_retried_hold_with_the_same_key_reserves_once(monolith, db, stock):
    stock(101, 10)

    first = hold(monolith, "order-3", [(101, 4)])
    again = hold(monolith, "order-3", [(101, 4)])

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    assert active(db, 101) == 4


def test_concurrent_holds_with_one_key_reserve_once(client_for, db, stock):
    stock(101, 10)
    start = threading.Barrier(8)

    def send(_):
        client = client_for(None, **{"X-Strangler-Identity": signed(MONOLITH)})
        client.get("/healthz")
        start.wait(timeout=30)
        return hold(client, "order-4", [(101, 3)])

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(send, range(8)))

    assert {a.status_code for a in answers} == {201}
    assert len({a.content for a in answers}) == 1
    assert active(db, 101) == 3


def test_a_refused_hold_is_refused_again_on_retry_even_once_stock_arrives(monolith, db, stock):
    stock_id = stock(101, 1)
    assert hold(monolith, "order-5", [(101, 2)]).status_code == 409
    db.execute("UPDATE inventory_stock SET quantity = 10 WHERE id = %s", (stock_id,))

    again = hold(monolith, "order-5", [(101, 2)])

    assert_error(again, 409, "insufficient_stock")
    assert active(db, 101) == 0


def test_a_key_reused_with_other_lines_is_refused(monolith, db, stock):
    stock(101, 10)
    hold(monolith, "order-6", [(101, 1)])

    assert_error(hold(monolith, "order-6", [(101, 2)]), 422, "idempotency_key_reused")
    assert active(db, 101) == 1


def test_releasing_a_hold_frees_its_units_and_a_repeat_frees_nothing_more(monolith, db, stock):
    stock(101, 10)
    hold(monolith, "order-7", [(101, 4)])

    first = monolith.post(f"{HOLDS}order-7/release")
    again = monolith.post(f"{HOLDS}order-7/release")

    assert (first.json()["released"], again.json()["released"]) == (1, 0)
    assert active(db, 101) == 0


def test_a_hold_released_before_it_arrived_is_refused_when_it_does(monolith, db, stock):
    stock(101, 10)
    assert monolith.post(f"{HOLDS}order-8/release").json() == {"key": "order-8", "released": 0}

    late = hold(monolith, "order-8", [(101, 4)])

    assert_error(late, 409, "hold_released")
    assert active(db, 101) == 0


def test_attach_gives_the_hold_to_the_order_which_release_and_fulfil_then_find(monolith, db, stock):
    stock_id = stock(101, 10)
    hold(monolith, "order-9", [(101, 4)])
    hold(monolith, "order-10", [(101, 3)])

    attached = monolith.post(f"{HOLDS}order-9/attach", json={"order": 41})
    monolith.post(f"{HOLDS}order-10/attach", json={"order": 42})
    assert attached.status_code == 200 and attached.json() == {"key": "order-9", "order": 41, "reservations": 1}
    assert monolith.post(f"{HOLDS}order-9/attach", json={"order": 41}).status_code == 200

    assert monolith.post("/internal/inventory/orders/41/release").json() == {"order": 41, "released": 1}
    assert monolith.post("/internal/inventory/orders/41/release").json()["released"] == 0
    assert monolith.post("/internal/inventory/orders/42/fulfil").json() == {"order": 42, "fulfilled": 1}
    assert monolith.post("/internal/inventory/orders/42/fulfil").json()["fulfilled"] == 0

    assert db.execute("SELECT quantity FROM inventory_stock WHERE id = %s", (stock_id,)).fetchone()[0] == 7
    statuses = db.execute("SELECT order_id, status FROM inventory_reservation ORDER BY order_id").fetchall()
    assert statuses == [(41, "released"), (42, "fulfilled")]


def test_attaching_a_key_that_holds_nothing_is_a_404(monolith, db, stock):
    stock(101, 1)
    hold(monolith, "order-11", [(101, 2)])  # refused: holds nothing

    assert_error(monolith.post(f"{HOLDS}order-11/attach", json={"order": 1}), 404, "not_found")
    assert_error(monolith.post(f"{HOLDS}never/attach", json={"order": 1}), 404, "not_found")


@pytest.mark.parametrize(
    "body",
    [
        {"key": "ok", "lines": []},
        {"key": "ok", "lines": [{"product": 101, "quantity": 0}]},
        {"key": "ok", "lines": [{"product": 101, "quantity": 1}, {"product": 101, "quantity": 1}]},
        {"key": "ok", "lines": [{"product": True, "quantity": 1}]},
        {"key": "ok", "lines": "101"},
        {"key": "has space", "lines": [{"product": 101, "quantity": 1}]},
        {"lines": [{"product": 101, "quantity": 1}]},
    ],
)
def test_a_malformed_hold_is_a_400_and_claims_no_key(monolith, db, stock, body):
    stock(101, 10)

    assert_error(monolith.post(HOLDS, json=body), 400, "invalid")
    assert db.execute("SELECT count(*) FROM inventory_order_hold").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (None, 401),
        ("charlie", 403),  # staff, but a person: the proxy signs identities like this one
        ("alice", 403),
    ],
)
def test_only_the_monolith_may_call(client_for, db, stock, who, status):
    stock(101, 10)
    client = client_for(who)

    assert client.post(HOLDS, json={"key": "k", "lines": [{"product": 101, "quantity": 1}]}).status_code == status
    assert client.post("/internal/inventory/orders/1/release").status_code == status
    assert active(db, 101) == 0


def test_an_identity_signed_with_another_key_is_refused(client_for, db, stock):
    stock(101, 10)
    client = client_for(None, **{"X-Strangler-Identity": signed(MONOLITH, key="another-key-" * 4)})

    assert_error(client.post(HOLDS, json={"key": "k", "lines": [{"product": 101, "quantity": 1}]}), 401)
    assert active(db, 101) == 0


def test_the_public_api_has_no_internal_paths(client_for, db):
    """Under /api/ (the only prefix the proxy routes to the service) nothing reaches the order operations."""
    client = client_for("charlie")

    assert_error(client.post("/api/inventory/order-holds/", json={}), 404, "not_found")
    assert_error(client.post("/api/internal/inventory/order-holds/", json={}), 404, "not_found")
