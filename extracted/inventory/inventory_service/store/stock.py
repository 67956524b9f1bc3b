"""inventory_stock: units on hand. What is free is on hand minus active reservations, computed on every read."""

from __future__ import annotations

from typing import Any

import psycopg

from inventory_service.database import Connection
from inventory_service.errors import Conflict
from inventory_service.listing import Filter, Listing
from inventory_service.rendering import timestamp

FROM = "inventory_stock s"
SELECT = (
    "SELECT s.id, s.product_id, s.warehouse_id, s.quantity, s.created_at, s.updated_at,"
    " coalesce(r.reserved, 0) AS reserved, s.quantity - coalesce(r.reserved, 0) AS available"
    " FROM inventory_stock s LEFT JOIN LATERAL ("
    "  SELECT sum(quantity) AS reserved FROM inventory_reservation"
    "  WHERE product_id = s.product_id AND warehouse_id = s.warehouse_id AND status = 'active'"
    " ) r ON TRUE"
)
LISTING = Listing(
    filters=(Filter("product", "s.product_id", "number"), Filter("warehouse", "s.warehouse_id", "number")),
    ordering={"quantity": "s.quantity", "id": "s.id"},
)


def shown(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "product": row["product_id"],
        "warehouse": row["warehouse_id"],
        "quantity": row["quantity"],
        "reserved": int(row["reserved"]),
        "available": int(row["available"]),
        "created_at": timestamp(row["created_at"]),
        "updated_at": timestamp(row["updated_at"]),
    }


async def get(conn: Connection, stock_id: int) -> dict[str, Any] | None:
    cursor = await conn.execute(f"{SELECT} WHERE s.id = %s", (stock_id,))
    return await cursor.fetchone()


async def reserved(conn: Connection, *, product_id: int, warehouse_id: int) -> int:
    cursor = await conn.execute(
        "SELECT coalesce(sum(quantity), 0) AS n FROM inventory_reservation"
        " WHERE product_id = %s AND warehouse_id = %s AND status = 'active'",
        (product_id, warehouse_id),
    )
    row = await cursor.fetchone()
    return int(row["n"]) if row else 0


async def lock(conn: Connection, stock_id: int) -> dict[str, Any] | None:
    cursor = await conn.execute(
        "SELECT id, product_id, warehouse_id, quantity FROM inventory_stock WHERE id = %s FOR UPDATE", (stock_id,)
    )
    return await cursor.fetchone()


async def lock_for(conn: Connection, *, product_id: int, warehouse_id: int) -> dict[str, Any] | None:
    cursor = await conn.execute(
        "SELECT id, quantity FROM inventory_stock WHERE product_id = %s AND warehouse_id = %s FOR UPDATE",
        (product_id, warehouse_id),
    )
    return await cursor.fetchone()


async def create(conn: Connection, *, product_id: int, warehouse_id: int, quantity: int) -> int:
    exists = Conflict("This warehouse already has a stock record for the product; change its quantity.", code="exists")
    cursor = await conn.execute(
        "SELECT 1 FROM inventory_stock WHERE product_id = %s AND warehouse_id = %s", (product_id, warehouse_id)
    )
    if await cursor.fetchone():
        raise exists
    try:
        async with conn.transaction():
            cursor = await conn.execute(
                "INSERT INTO inventory_stock (product_id, warehouse_id, quantity, created_at, updated_at)"
                " VALUES (%s, %s, %s, clock_timestamp(), clock_timestamp()) RETURNING id",
                (product_id, warehouse_id, quantity),
            )
    except psycopg.errors.UniqueViolation as exc:  # a concurrent create of the same pair won
        raise exists from exc
    row = await cursor.fetchone()
    assert row is not None
    return int(row["id"])


async def set_quantity(conn: Connection, stock_id: int, quantity: int) -> bool:
    """False when there is no such stock. On-hand may not drop below what is reserved (Conflict)."""
    locked = await lock(conn, stock_id)
    if locked is None:
        return False
    held = await reserved(conn, product_id=locked["product_id"], warehouse_id=locked["warehouse_id"])
    if quantity < held:
        raise Conflict(
            f"{held} units are reserved; on-hand stock cannot go below that.",
            code="below_reserved",
            fields={"quantity": [f"Must be at least {held}."]},
        )
    await conn.execute(
        "UPDATE inventory_stock SET quantity = %s, updated_at = clock_timestamp() WHERE id = %s", (quantity, stock_id)
    )
    return True


async def delete(conn: Connection, stock_id: int) -> bool:
    # Locked first: a reservation being made for this stock waits, then finds no stock (none is free).
    locked = await lock(conn, stock_id)
    if locked is None:
        return False
    if await reserved(conn, product_id=locked["product_id"], warehouse_id=locked["warehouse_id"]):
        raise Conflict("Units of this stock are reserved.", code="in_use")
    await conn.execute("DELETE FROM inventory_stock WHERE id = %s", (stock_id,))
    return True


async def available_for_sale(conn: Connection, product_id: int) -> int:
    """Free units of the product across active warehouses; a warehouse with more reserved than on hand counts 0."""
    cursor = await conn.execute(
        "SELECT coalesce(sum(greatest(s.quantity - coalesce(r.reserved, 0), 0)), 0) AS n"
        " FROM inventory_stock s JOIN inventory_warehouse w ON w.id = s.warehouse_id AND w.active"
        " LEFT JOIN LATERAL ("
        "  SELECT sum(quantity) AS reserved FROM inventory_reservation"
        "  WHERE product_id = s.product_id AND warehouse_id = s.warehouse_id AND status = 'active'"
        " ) r ON TRUE WHERE s.product_id = %s",
        (product_id,),
    )
    row = await cursor.fetchone()
    return int(row["n"]) if row else 0
