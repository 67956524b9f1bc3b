"""Durable engine state, kept in the target database so it commits with the data it describes.

One row per fact, JSON values, names scoped by spec and direction, e.g. `catalog/forward/backfill/catalog_product`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from strangler_playbook.database.connection import Database

STATE_TABLE = "_strangler_state"


def ensure_state_table(db: Database) -> None:
    if db.has_state_table:
        return
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} "
        "(name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL)"
    )
    db.has_state_table = True


def state_table_exists(db: Database) -> bool:
    """Whether the state table exists; once seen on a connection it is remembered (the engine never drops it),
    which saves a catalog query per state read on the handover's connections."""
    if not db.has_state_table:
        db.has_state_table = db.table_exists(STATE_TABLE)
    return db.has_state_table


def read_state(db: Database, name: str) -> Any:
    if not state_table_exists(db):
        return None
    raw = db.scalar(f"SELECT value FROM {STATE_TABLE} WHERE name = {db.ph}", (name,))
    return json.loads(raw) if raw is not None else None


def read_prefix(db: Database, prefix: str) -> dict[str, Any]:
    if not state_table_exists(db):
        return {}
    rows = db.fetchall(
        f"SELECT name, value FROM {STATE_TABLE} WHERE substr(name, 1, {len(prefix)}) = {db.ph}", (prefix,)
    )
    return {str(name): json.loads(value) for name, value in rows}


def write_state(db: Database, name: str, value: Any) -> None:
    """Upsert one fact; call inside the transaction that does the work it records."""
    now = datetime.now(UTC).isoformat()
    db.execute(
        f"INSERT INTO {STATE_TABLE} (name, value, updated_at) VALUES ({db.ph}, {db.ph}, {db.ph}) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (name, json.dumps(value, default=str), now),
    )


def delete_prefix(db: Database, prefix: str) -> None:
    if state_table_exists(db):
        db.execute(f"DELETE FROM {STATE_TABLE} WHERE substr(name, 1, {len(prefix)}) = {db.ph}", (prefix,))
