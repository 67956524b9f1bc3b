"""inventory_warehouse."""

from __future__ import annotations

from typing import Any

import psycopg

from inventory_service.database import Connection
from inventory_service.errors import Conflict
from inventory_service.listing import Filter, Listing
from inventory_service.rendering import timestamp

COLUMNS = "id, code, name, city, country, active, created_at, updated_at"
SELECT = f"SELECT {COLUMNS} FROM inventory_warehouse"  # noqa: S608
FROM = "inventory_warehouse"
WRITABLE = ("code", "name", "city", "country", "active")
LISTING = Listing(
    filters=(Filter("active", "active", "boolean"), Filter("country", "country", "text_iexact")),
    search=("code", "name", "city"),
    ordering={"code": "code", "name": "name", "id": "id"},
)


def shown(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "code": row["code"],
        "name": row["name"],
        "city": row["city"],
        "country": row["country"],
        "active": row["active"],
        "created_at": timestamp(row["created_at"]),
        "updated_at": timestamp(row["updated_at"]),
    }


async def get(conn: Connection, warehouse_id: int) -> dict[str, Any] | None:
    cursor = await conn.execute(f"{SELECT} WHERE id = %s", (warehouse_id,))
    return await cursor.fetchone()


async def code_taken(conn: Connection, code: str, *, other_than: int | None = None) -> bool:
    cursor = await conn.execute(
        "SELECT 1 FROM inventory_warehouse WHERE code = %s AND id IS DISTINCT FROM %s", (code, other_than)
    )
    return await cursor.fetchone() is not None


async def create(conn: Connection, *, code: str, name: str, city: str, country: str, active: bool) -> dict[str, Any]:
    cursor = await conn.execute(
        "INSERT INTO inventory_warehouse (code, name, city, country, active, created_at, updated_at)"  # noqa: S608 - COLUMNS is a constant
        f" VALUES (%s, %s, %s, %s, %s, clock_timestamp(), clock_timestamp()) RETURNING {COLUMNS}",
        (code, name, city, country, active),
    )
    row = await cursor.fetchone()
    assert row is not None
    return row


async def update(conn: Connection, warehouse_id: int, changes: dict[str, Any]) -> dict[str, Any] | None:
    names = [name for name in WRITABLE if name in changes]
    assignments = "".join(f"{name} = %s, " for name in names)
    cursor = await conn.execute(
        f"UPDATE inventory_warehouse SET {assignments}updated_at = clock_timestamp() WHERE id = %s"  # noqa: S608
        f" RETURNING {COLUMNS}",
        [*(changes[name] for name in names), warehouse_id],
    )
    return await cursor.fetchone()


async def delete(conn: Connection, warehouse_id: int) -> bool:
    """False when there was no such warehouse; Conflict while stock or reservations name it."""
    try:
        async with conn.transaction():
            cursor = await conn.execute("DELETE FROM inventory_warehouse WHERE id = %s", (warehouse_id,))
    except psycopg.errors.ForeignKeyViolation as exc:
        raise Conflict(
            "The warehouse still holds stock or reservations; deactivate it instead.", code="in_use"
        ) from exc
    return cursor.rowcount > 0
