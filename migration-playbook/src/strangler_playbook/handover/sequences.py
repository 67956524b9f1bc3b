"""Realigning id sequences when the system of record flips.

The backfill and the sync write explicit ids, so the new owner's sequence still points at its start: its first
insert would collide with a copied row. At each flip the new owner's sequence is set past every id either side
has used: the old owner's sequence (ids of deleted rows must not come back) and the new owner's largest id.
"""

from __future__ import annotations

from strangler_playbook.database.connection import Database, quote
from strangler_playbook.database.context import RunContext
from strangler_playbook.database.schema import Table


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
    if ctx.source.engine == ctx.target.engine == "postgresql":
        return _realign_pg(ctx)
    result = {}
    for table in _int_keyed(ctx):
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


def prepare_realign(ctx: RunContext) -> None:
    """Look up the sequences `realign_sequences` reads and sets, ahead of the hold (they are kept per connection)."""
    if ctx.source.engine == ctx.target.engine == "postgresql":
        for table in _int_keyed(ctx):
            _sequence_name(ctx.source, table.source, table.key_sources[0])
            _sequence_name(ctx.target, table.target, table.key_targets[0])


def _int_keyed(ctx: RunContext) -> list[Table]:
    return [t for t in ctx.tables if len(t.key_indexes) == 1 and t.key_kinds[0].name == "int"]


def _sequence_name(db: Database, table: str, column: str) -> str | None:
    if (table, column) not in db.sequences:
        found = db.scalar("SELECT pg_get_serial_sequence(%s, %s)", (quote(table), column))
        db.sequences[(table, column)] = None if found is None else str(found)
    return db.sequences[(table, column)]


def _used_pg(db: Database, tables: list[tuple[str, str, str | None]]) -> list[int]:
    """One query: for each (table, key, sequence), the larger of its largest key and its sequence's last value."""
    parts = []
    for table, key, sequence in tables:
        parts.append(f"(SELECT coalesce(max({quote(key)}), 0) FROM {quote(table)})")
        parts.append(
            f"(SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {sequence})" if sequence else "0"
        )
    row = db.fetchone("SELECT " + ", ".join(parts))
    assert row is not None
    return [max(int(row[i]), int(row[i + 1])) for i in range(0, len(row), 2)]


def _realign_pg(ctx: RunContext) -> dict[str, int]:
    """The same, in three statements whatever the number of tables (under a hold, each costs held writes)."""
    tables = [(t, _sequence_name(ctx.target, t.target, t.key_targets[0])) for t in _int_keyed(ctx)]
    tables = [(t, target_sequence) for t, target_sequence in tables if target_sequence is not None]
    if not tables:
        return {}
    source = _used_pg(
        ctx.source,
        [(t.source, t.key_sources[0], _sequence_name(ctx.source, t.source, t.key_sources[0])) for t, _ in tables],
    )
    target = _used_pg(ctx.target, [(t.target, t.key_targets[0], None) for t, _ in tables])
    values = [max(a, b) for a, b in zip(source, target, strict=True)]
    calls = ", ".join("setval(%s, %s, %s)" for _ in tables)
    params: list[object] = []
    for (_, sequence), value in zip(tables, values, strict=True):
        params += [sequence, max(value, 1), value >= 1]
    ctx.target.execute(f"SELECT {calls}", params)  # sequences are not transactional: no transaction needed
    return {t.target: value for (t, _), value in zip(tables, values, strict=True)}


def _sqlite_autoincrement(db: Database, table: str) -> bool:
    sql = db.scalar("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
    return sql is not None and "AUTOINCREMENT" in str(sql).upper()
