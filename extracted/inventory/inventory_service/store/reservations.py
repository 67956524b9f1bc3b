"""inventory_reservation: units held for an order or by staff, released rather than deleted.

Reserving is safe under concurrency: the stock row is locked (`SELECT … FOR UPDATE`) before the free units are
counted, so two buyers of the last units take turns, and the second sees the first one's reservation.
"""

from __future__ import annotations

from typing import Any

from inventory_service.database import Connection
from inventory_service.errors import Conflict
from inventory_service.listing import Filter, Listing
from inventory_service.rendering import timestamp
from inventory_service.store import stock

STATUSES = ("active", "released", "fulfilled")
COLUMNS = "id, product_id, warehouse_id, quantity, order_id, status, created_at, updated_at"
FROM = "inventory_reservation"
SELECT = f"SELECT {COLUMNS} FROM inventory_reservation"  # noqa: S608
LISTING = Listing(
    filters=(
        Filter("product", "product_id", "number"),
        Filter("warehouse", "warehouse_id", "number"),
        Filter("order", "order_id", "number"),
        Filter("status", "status", "choice", choices=STATUSES),
    ),
    ordering={"created_at": "created_at", "id": "id"},
)


def shown(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "product": row["product_id"],
        "warehouse": row["warehouse_id"],
        "quantity": row["quantity"],
        "order": row["order_id"],
        "status": row["status"],
        "created_at": timestamp(row["created_at"]),
        "updated_at": timestamp(row["updated_at"]),
    }


async def get(conn: Connection, reservation_id: int) -> dict[str, Any] | None:
    cursor = await conn.execute(f"{SELECT} WHERE id = %s", (reservation_id,))
    return await cursor.fetchone()


async def reserve(
    conn: Connection, *, product_id: int, warehouse_id: int, warehouse_code: str, quantity: int
) -> dict[str, Any]:
    """Hold `quantity` units in one warehouse, or raise Conflict saying how many are free. Run in a transaction."""
    locked = await stock.lock_for(conn, product_id=product_id, warehouse_id=warehouse_id)
    free = 0
    if locked is not None:
        free = locked["quantity"] - await stock.reserved(conn, product_id=product_id, warehouse_id=warehouse_id)
    if quantity > free:
        raise Conflict(f"Only {free} units are free in {warehouse_code}.", code="insufficient_stock")
    cursor = await conn.execute(
        "INSERT INTO inventory_reservation (product_id, warehouse_id, quantity, status, created_at, updated_at)"  # noqa: S608 - COLUMNS is a constant
        f" VALUES (%s, %s, %s, 'active', clock_timestamp(), clock_timestamp()) RETURNING {COLUMNS}",
        (product_id, warehouse_id, quantity),
    )
    row = await cursor.fetchone()
    assert row is not None
    return row


async def release(conn: Connection, reservation_id: int) -> dict[str, Any] | None:
    """None when there is no such reservation; Conflict unless it is active. Run in a transaction."""
    cursor = await conn.execute("SELECT status FROM inventory_reservation WHERE id = %s FOR UPDATE", (reservation_id,))
    row = await cursor.fetchone()
    if row is None:
        return None
    if row["status"] != "active":
        raise Conflict(f"The reservation is already {row['status']}.", code="invalid_transition")
    cursor = await conn.execute(
        "UPDATE inventory_reservation SET status = 'released', updated_at = clock_timestamp() WHERE id = %s"  # noqa: S608 - COLUMNS is a constant
        f" RETURNING {COLUMNS}",
        (reservation_id,),
    )
    return await cursor.fetchone()
