"""inventory_idempotency_key: the answer given to each (caller, Idempotency-Key), so that a retry is answered
again instead of being carried out again.

`claim` runs first in the request's transaction. The key's row is inserted then; a concurrent request with the
same key blocks on that insert until the first commits (PostgreSQL waits on the conflicting uncommitted row) and
then finds the stored answer. If the first request rolls back, its claim goes with it and the second proceeds.
"""

from __future__ import annotations

from dataclasses import dataclass

from inventory_service.database import Connection

RETENTION = "24 hours"


@dataclass(frozen=True)
class Stored:
    fingerprint: bytes
    status: int
    body: bytes


async def claim(conn: Connection, *, user_id: int, key: str, fingerprint: bytes) -> Stored | None:
    """None: the key is ours now (record the answer before commit). Otherwise the answer stored for it."""
    await conn.execute(
        f"DELETE FROM inventory_idempotency_key WHERE user_id = %s AND key = %s"  # noqa: S608
        f" AND created_at < clock_timestamp() - interval '{RETENTION}'",
        (user_id, key),
    )
    cursor = await conn.execute(
        "INSERT INTO inventory_idempotency_key (user_id, key, fingerprint) VALUES (%s, %s, %s)"
        " ON CONFLICT (user_id, key) DO NOTHING RETURNING 1",
        (user_id, key, fingerprint),
    )
    if await cursor.fetchone():
        return None
    cursor = await conn.execute(
        "SELECT fingerprint, status, body FROM inventory_idempotency_key WHERE user_id = %s AND key = %s",
        (user_id, key),
    )
    row = await cursor.fetchone()
    assert row is not None and row["status"] is not None  # rows are only visible once their answer is recorded
    return Stored(fingerprint=bytes(row["fingerprint"]), status=int(row["status"]), body=bytes(row["body"]))


async def record(conn: Connection, *, user_id: int, key: str, status: int, body: bytes) -> None:
    await conn.execute(
        "UPDATE inventory_idempotency_key SET status = %s, body = %s WHERE user_id = %s AND key = %s",
        (status, body, user_id, key),
    )


async def prune(conn: Connection) -> int:
    cursor = await conn.execute(
        f"DELETE FROM inventory_idempotency_key WHERE created_at < clock_timestamp() - interval '{RETENTION}'"  # noqa: S608
    )
    return cursor.rowcount
