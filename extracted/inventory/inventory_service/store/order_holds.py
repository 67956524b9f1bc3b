"""inventory_order_hold: the stock the monolith holds for an order it is placing, keyed by its idempotency key,
and the order operations the monolith's saga calls (docs/seam.md, "the order saga").

- `reserve`: all lines or none, each from the active warehouses with the most free units first (the monolith's
  `inventory.services.stock_reserve_for_order`, rule for rule). Stock rows are locked in product then warehouse
  order, the same order for every caller, so two holds of overlapping products cannot deadlock. The hold's row is
  inserted first: a concurrent request with the same key waits on it, then finds the stored answer.
- `release_hold`: releases what the key reserved; for a key never seen it leaves a row without an answer, so a
  reservation that arrives later (a request still on its way) is refused rather than held forever.
- `attach`, `release_order`, `fulfil_order`: by order id, idempotent (a repeat finds nothing left to do).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from inventory_service.database import Connection
from inventory_service.errors import Conflict, IdempotencyMismatch, NotFound
from inventory_service.rendering import json_bytes


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    replayed: bool


def fingerprint(lines: dict[int, int]) -> bytes:
    return hashlib.sha256(json.dumps(sorted(lines.items())).encode("ascii")).digest()


async def reserve(conn: Connection, *, key: str, lines: dict[int, int]) -> Answer:
    """The hold's answer: 201 with its reservations, or 409 (not enough stock, or the key was released). Run in a
    transaction: the answer is stored with the reservations, or neither is."""
    digest = fingerprint(lines)
    cursor = await conn.execute(
        "INSERT INTO inventory_order_hold (key, fingerprint) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING RETURNING 1",
        (key, digest),
    )
    if await cursor.fetchone() is None:
        return await _stored(conn, key=key, fingerprint=digest)
    try:
        reservations = await _allocate(conn, lines)
        status, body = 201, json_bytes({"key": key, "order": None, "reservations": reservations})
    except Conflict as refusal:
        reservations, status, body = [], refusal.status, json_bytes(refusal.body())
    await conn.execute(
        "UPDATE inventory_order_hold SET status = %s, body = %s, reservation_ids = %s WHERE key = %s",
        (status, body, [r["id"] for r in reservations], key),
    )
    return Answer(status=status, body=body, replayed=False)


async def _stored(conn: Connection, *, key: str, fingerprint: bytes) -> Answer:
    cursor = await conn.execute("SELECT fingerprint, status, body FROM inventory_order_hold WHERE key = %s", (key,))
    row = await cursor.fetchone()
    assert row is not None
    if row["status"] is None:
        raise Conflict(
            "This hold was released before its reservation arrived; place the order again with a new key.",
            code="hold_released",
        )
    if bytes(row["fingerprint"]) != fingerprint:
        raise IdempotencyMismatch(
            "This hold key was used with other lines; use a new key for a new hold.",
            fields={"key": ["Already used with different lines."]},
        )
    return Answer(status=int(row["status"]), body=bytes(row["body"]), replayed=True)


async def _allocate(conn: Connection, lines: dict[int, int]) -> list[dict[str, Any]]:
    products = sorted(lines)
    cursor = await conn.execute(
        "SELECT s.product_id, s.warehouse_id, s.quantity FROM inventory_stock s"
        " JOIN inventory_warehouse w ON w.id = s.warehouse_id"
        " WHERE s.product_id = ANY(%s) AND w.active"
        " ORDER BY s.product_id, s.warehouse_id FOR UPDATE OF s",
        (products,),
    )
    stocks = await cursor.fetchall()
    cursor = await conn.execute(
        "SELECT product_id, warehouse_id, sum(quantity) AS reserved FROM inventory_reservation"
        " WHERE product_id = ANY(%s) AND status = 'active' GROUP BY product_id, warehouse_id",
        (products,),
    )
    reserved = {(r["product_id"], r["warehouse_id"]): int(r["reserved"]) for r in await cursor.fetchall()}
    shortages: dict[int, int] = {}
    taken: list[tuple[int, int, int]] = []
    for product_id in products:
        free = {
            s["warehouse_id"]: s["quantity"] - reserved.get((product_id, s["warehouse_id"]), 0)
            for s in stocks
            if s["product_id"] == product_id
        }
        remaining = lines[product_id]
        for warehouse_id in sorted(free, key=lambda w: (-free[w], w)):
            take = min(remaining, free[warehouse_id])
            if take > 0:
                taken.append((product_id, warehouse_id, take))
                remaining -= take
        if remaining:
            shortages[product_id] = lines[product_id] - remaining
    if shortages:
        detail = ", ".join(f"product {pid}: {free} available" for pid, free in sorted(shortages.items()))
        raise Conflict(f"Not enough stock ({detail}).", code="insufficient_stock")
    cursor = await conn.execute(
        "INSERT INTO inventory_reservation (product_id, warehouse_id, quantity, status, created_at, updated_at)"
        " SELECT p, w, q, 'active', clock_timestamp(), clock_timestamp()"
        " FROM unnest(%s::bigint[], %s::bigint[], %s::integer[]) AS t(p, w, q)"
        " RETURNING id, product_id, warehouse_id, quantity",
        ([t[0] for t in taken], [t[1] for t in taken], [t[2] for t in taken]),
    )
    rows = await cursor.fetchall()
    return [
        {"id": r["id"], "product": r["product_id"], "warehouse": r["warehouse_id"], "quantity": r["quantity"]}
        for r in sorted(rows, key=lambda r: r["id"])
    ]


async def release_hold(conn: Connection, *, key: str) -> int:
    """Units released by `key`'s hold (0 if none were held). Run in a transaction."""
    cursor = await conn.execute(
        "INSERT INTO inventory_order_hold (key, released) VALUES (%s, true)"
        " ON CONFLICT (key) DO UPDATE SET released = true RETURNING reservation_ids",
        (key,),
    )
    row = await cursor.fetchone()
    assert row is not None
    cursor = await conn.execute(
        "UPDATE inventory_reservation SET status = 'released', updated_at = clock_timestamp()"
        " WHERE id = ANY(%s) AND status = 'active'",
        (row["reservation_ids"],),
    )
    return cursor.rowcount


async def attach(conn: Connection, *, key: str, order_id: int) -> int:
    """The hold's reservations now belong to `order_id`. NotFound when the key holds nothing. In a transaction."""
    cursor = await conn.execute(
        "UPDATE inventory_order_hold SET order_id = %s WHERE key = %s AND status = 201 RETURNING reservation_ids",
        (order_id, key),
    )
    row = await cursor.fetchone()
    if row is None:
        raise NotFound("No reservation is held under this key.")
    cursor = await conn.execute(
        "UPDATE inventory_reservation SET order_id = %s, updated_at = clock_timestamp()"
        " WHERE id = ANY(%s) AND order_id IS DISTINCT FROM %s",
        (order_id, row["reservation_ids"], order_id),
    )
    return len(row["reservation_ids"])


async def release_order(conn: Connection, *, order_id: int) -> int:
    cursor = await conn.execute(
        "UPDATE inventory_reservation SET status = 'released', updated_at = clock_timestamp()"
        " WHERE order_id = %s AND status = 'active'",
        (order_id,),
    )
    return cursor.rowcount


async def fulfil_order(conn: Connection, *, order_id: int) -> int:
    """The order left the warehouse: its active reservations become fulfilled and leave the on-hand stock."""
    cursor = await conn.execute(
        "SELECT id, product_id, warehouse_id, quantity FROM inventory_reservation"
        " WHERE order_id = %s AND status = 'active' ORDER BY product_id, warehouse_id, id FOR UPDATE",
        (order_id,),
    )
    reservations = await cursor.fetchall()
    for r in reservations:
        await conn.execute(
            "UPDATE inventory_stock SET quantity = quantity - %s, updated_at = clock_timestamp()"
            " WHERE product_id = %s AND warehouse_id = %s",
            (r["quantity"], r["product_id"], r["warehouse_id"]),
        )
    await conn.execute(
        "UPDATE inventory_reservation SET status = 'fulfilled', updated_at = clock_timestamp() WHERE id = ANY(%s)",
        ([r["id"] for r in reservations],),
    )
    return len(reservations)
