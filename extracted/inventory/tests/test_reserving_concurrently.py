"""Reservations never oversell: the stock row is locked before the free units are counted."""

import threading
from concurrent.futures import ThreadPoolExecutor

from conftest import assert_error

RESERVATIONS = "/api/inventory/reservations/"
BUYERS = 16


def buy_together(client_for, bodies, headers=None):
    """Every body POSTed at once, each from its own connection; the responses in the same order."""
    start = threading.Barrier(len(bodies))

    def buy(i):
        client = client_for("charlie", **(headers(i) if headers else {}))
        client.get("/healthz")  # connect before the barrier, so the requests really overlap
        start.wait(timeout=30)
        return client.post(RESERVATIONS, json=bodies[i])

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(buy, range(len(bodies))))


def test_sixteen_buyers_of_the_last_ten_units_never_oversell(client_for, db, stock, warehouse):
    depot = warehouse("LAST-10")
    stock(101, 10, depot)

    responses = buy_together(client_for, [{"product": 101, "warehouse": depot, "quantity": 1}] * BUYERS)

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 10 + [409] * 6, statuses
    for refused in (r for r in responses if r.status_code == 409):
        assert_error(refused, 409, "insufficient_stock")
    held = db.execute(
        "SELECT coalesce(sum(quantity), 0) FROM inventory_reservation WHERE product_id = 101 AND status = 'active'"
    ).fetchone()[0]
    assert held == 10
    assert client_for(None).get("/api/inventory/availability/101/").json() == {"product": 101, "available": 0}


def test_buyers_of_uneven_quantities_get_at_most_what_is_on_hand(client_for, db, stock, warehouse):
    depot = warehouse("UNEVEN")
    stock(101, 10, depot)
    quantities = [3, 1, 4, 1, 5, 2, 6, 2, 3, 1, 4, 2, 1, 3, 2, 5]

    responses = buy_together(client_for, [{"product": 101, "warehouse": depot, "quantity": q} for q in quantities])

    granted = sum(q for q, r in zip(quantities, responses, strict=True) if r.status_code == 201)
    assert all(r.status_code in (201, 409) for r in responses)
    held = db.execute("SELECT sum(quantity) FROM inventory_reservation WHERE status = 'active'").fetchone()[0]
    assert granted == held <= 10
    # Free units only shrink, so a buyer refused then would be refused now too: nobody was turned away wrongly.
    refused = [q for q, r in zip(quantities, responses, strict=True) if r.status_code == 409]
    assert all(q > 10 - granted for q in refused), (granted, refused)


def test_a_released_reservation_makes_its_units_free_again(client_for, stock, warehouse):
    depot = warehouse("RELEASE")
    stock(101, 1, depot)
    staff = client_for("charlie")
    first = staff.post(RESERVATIONS, json={"product": 101, "warehouse": depot, "quantity": 1})
    assert first.status_code == 201
    assert_error(staff.post(RESERVATIONS, json={"product": 101, "warehouse": depot, "quantity": 1}), 409)

    assert staff.post(f"{RESERVATIONS}{first.json()['id']}/release/").json()["status"] == "released"

    assert staff.post(RESERVATIONS, json={"product": 101, "warehouse": depot, "quantity": 1}).status_code == 201
