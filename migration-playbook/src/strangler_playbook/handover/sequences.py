"""Realigning id sequences when the system of record flips.

The backfill and the sync write explicit ids, so the new owner's sequence still points at its start: its first
insert would collide with a copied row. At each flip the new owner's sequence is set past every id either side
has used: the old owner's sequence (ids of deleted rows must not come back) and the new owner's largest id.
"""

from __future__ import annotations

from strangler_playbook.database.connection import Database, quote
from strangler_playbook.database.context import RunContext


def sequence_value(db: Database, table: str, column: str) -> int | None:
    """The last id the table's sequence handed out (0 if none yet); None when the key has no sequence."""
    if db.engine == "postgresql":
        sequence = db.scalar("SELECT pg_get_serial_sequence(%s, %s)", (quote(table), column))
        if sequence is None:
            return None
        row = db.fetchone(f"SELECT last_value, is_called FROM {sequence}")
        assert row is not None
        return int(row[0]) if row[1] else int(row[0]) - 1
    if not _sqlite_autoincrement(db, table):
        return None  # SQLite then allocates max(rowid) + 1 by itself
    value = db.scalar("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,))
    return int(value or 0)


def set_sequence(db: Database, table: str, column: str, value: int) -> None:
    if db.engine == "postgresql":
        sequence = db.scalar("SELECT pg_get_serial_sequence(%s, %s)", (quote(table), column))
        if sequence is not None:
            db.execute("SELECT setval(%s, %s, %s)", (sequence, max(value, 1), value >= 1))
        return
    if _sqlite_autoincrement(db, table):
        db.execute("DELETE FROM sqlite_sequence WHERE name = ?", (table,))
        db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, value))


def realign_sequences(ctx: RunContext) -> dict[str, int]:
    """Set each target table's id sequence past every id used on either side; returns table → new value."""
    result = {}
    for table in ctx.tables:
        if len(table.key_indexes) != 1 or table.key_kinds[0].name != "int":
            continue
        source_key, target_key = table.key_sources[0], table.key_targets[0]
        used = [
            sequence_value(ctx.source, table.source, source_key) or 0,
            int(ctx.source.scalar(f"SELECT coalesce(max({quote(source_key)}), 0) FROM {quote(table.source)}")),
            int(ctx.target.scalar(f"SELECT coalesce(max({quote(target_key)}), 0) FROM {quote(table.target)}")),
        ]
        if sequence_value(ctx.target, table.target, target_key) is None:
            continue
        with ctx.target.transaction():
            set_sequence(ctx.target, table.target, target_key, max(used))
        result[table.target] = max(used)
    return result


def _sqlite_autoincrement(db: Database, table: str) -> bool:
    sql = db.scalar("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
    return sql is not None and "AUTOINCREMENT" in str(sql).upper()
