"""One page of a list: the count and the rows of the requested page, in one repeatable-read snapshot so that
both agree."""

from __future__ import annotations

from typing import Any

from inventory_service.database import Connection
from inventory_service.listing import Where
from inventory_service.pagination import Page, page


async def page_of(
    conn: Connection, *, select: str, count_from: str, where: Where, order: str, query: Any, size: int
) -> tuple[Page, list[dict[str, Any]]]:
    """`select` and `count_from` are SQL of the caller's own making (no request text): the filters are parameters."""
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        sql = f"SELECT count(*) AS n FROM {count_from} WHERE {where.sql()}"  # noqa: S608
        cursor = await conn.execute(sql, where.params)
        counted = await cursor.fetchone()
        chosen = page(query, size=size, count=int(counted["n"]) if counted else 0)
        cursor = await conn.execute(
            f"{select} WHERE {where.sql()} ORDER BY {order} LIMIT %s OFFSET %s",
            [*where.params, chosen.size, chosen.offset],
        )
        rows = await cursor.fetchall()
    return chosen, rows
