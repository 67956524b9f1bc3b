"""The service's PostgreSQL: one async connection pool per process, opened at start and closed at stop."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

Connection = AsyncConnection[dict[str, Any]]


def pool(url: str, *, size: int) -> AsyncConnectionPool[Connection]:
    return AsyncConnectionPool(
        url,
        min_size=1,
        max_size=size,
        open=False,
        # Autocommit: a statement outside `conn.transaction()` commits at once, so no connection sits idle in a
        # transaction while a handler waits on the catalog; every write runs in an explicit transaction block.
        kwargs={"row_factory": dict_row, "autocommit": True},
        # A pooled connection that went away (a database restart) is replaced instead of failing one request.
        check=AsyncConnectionPool.check_connection,
        name="inventory",
    )
