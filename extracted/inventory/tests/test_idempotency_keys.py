"""`Idempotency-Key` on a reservation: a retry is answered again, never carried out twice."""

import threading
from concurrent.futures import ThreadPoolExecutor

from conftest import Persona, assert_error, signed

RESERVATIONS = "/api/inventory/reservations/"


def reservations_held(db):
    return db.execute("SELECT count(*), coalesce(sum(quantity), 0) FROM inventory_reservation").fetchone()


def test_a_retry_with_the_same_key_and_body_reserves_once_and_gets_the_same_answer(client_for, db, stock, warehouse):
    depot = warehouse()
    stock(101, 5, depot)
    body = {"product": 101, "warehouse": depot, "quantity": 2}
    staff = client_for("charlie", **{"Idempotency-Key": "order-17-line-1"})

    first = staff.post(RESERVATIONS, json=body)
    retry = staff.post(RESERVATIONS, json=body)

    assert first.status_code == retry.status_code == 201
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert reservations_held(db) == (1, 2)


def test_the_same_key_with_another_body_is_refused_and_reserves_nothing_more(client_for, db, stock, warehouse):
    depot = warehouse()
    stock(101, 5, depot)
    staff = client_for("charlie", **{"Idempotency-Key": "k-1"})
    assert staff.post(RESERVATIONS, json={"product": 101, "warehouse": depot, "quantity": 2}).status_code == 201

    other = staff.post(RESERVATIONS, json={"product": 101, "warehouse": depot, "quantity": 3})

    error = assert_error(other, 422, "idempotency_key_reused")
    assert list(error["fields"]) == ["Idempotency-Key"]
    assert reservations_held(db) == (1, 2)


def test_concurrent_retries_with_one_key_reserve_once(client_for, db, stock, warehouse):
    depot = warehouse()
    stock(101, 10, depot)
    body = {"product": 101, "warehouse": depot, "quantity": 1}
    start = threading.Barrier(8)

    def retry(_):
        client = client_for("charlie", **{"Idempotency-Key": "the-same-key"})
        client.get("/healthz")
        start.wait(timeout=30)
        return client.post(RESERVATIONS, json=body)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(retry, range(8)))

    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert reservations_held(db) == (1, 1)


def test_a_refusal_is_an_answer_too_and_is_replayed(client_for, db, stock, warehouse):
    depot = warehouse()
    record = stock(101, 1, depot)
    body = {"product": 101, "warehouse": depot, "quantity": 2}
    staff = client_for("charlie", **{"Idempotency-Key": "too-many"})
    assert_error(staff.post(RESERVATIONS, json=body), 409, "insufficient_stock")
    db.execute("UPDATE inventory_stock SET quantity = 10 WHERE id = %s", (record,))

    again = staff.post(RESERVATIONS, json=body)

    assert_error(again, 409, "insufficient_stock")
    assert reservations_held(db) == (0, 0)


def test_keys_belong_to_their_caller(client_for, db, stock, warehouse):
    depot = warehouse()
    stock(101, 5, depot)
    body = {"product": 101, "warehouse": depot, "quantity": 1}
    other_staff = Persona(9, "dora", True, "staff-token")
    charlie = client_for("charlie", **{"Idempotency-Key": "shared-name"})
    dora = client_for(None, **{"Idempotency-Key": "shared-name", "Authorization": "Token staff-token"})
    dora.headers["X-Strangler-Identity"] = signed(other_staff)

    assert charlie.post(RESERVATIONS, json=body).status_code == 201
    assert dora.post(RESERVATIONS, json=body).status_code == 201
    assert reservations_held(db) == (2, 2)


def test_without_a_key_two_identical_requests_reserve_twice_as_in_the_monolith(client_for, db, stock, warehouse):
    depot = warehouse()
    stock(101, 5, depot)
    staff = client_for("charlie")
    body = {"product": 101, "warehouse": depot, "quantity": 1}

    assert staff.post(RESERVATIONS, json=body).status_code == 201
    assert staff.post(RESERVATIONS, json=body).status_code == 201
    assert reservations_held(db) == (2, 2)


def test_a_malformed_key_is_a_400(client_for, stock, warehouse):
    depot = warehouse()
    stock(101, 5, depot)
    staff = client_for("charlie", **{"Idempotency-Key": "x" * 256})

    error = assert_error(staff.post(RESERVATIONS, json={"product": 101, "warehouse": depot, "quantity": 1}), 400)
    assert list(error["fields"]) == ["Idempotency-Key"]


def test_a_failed_catalog_lookup_is_not_remembered(client_for, db, stock, warehouse, catalog):
    depot = warehouse()
    stock(102, 5, depot)  # 102 is asked about only here: no remembered answer
    body = {"product": 102, "warehouse": depot, "quantity": 1}
    staff = client_for("charlie", **{"Idempotency-Key": "retry-after-outage"})
    catalog.answer_with = 502
    assert_error(staff.post(RESERVATIONS, json=body), 503, "catalog_unavailable")
    catalog.answer_with = None

    assert staff.post(RESERVATIONS, json=body).status_code == 201
    assert reservations_held(db) == (1, 1)
