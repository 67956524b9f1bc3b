"""Reading rows from the source by key range or by keys, and writing them to the target idempotently."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import psycopg

from strangler_playbook.database.connection import Database, quote, translate
from strangler_playbook.database.schema import Table, key_order_sql, key_params_sql, key_select_sql, key_sql
from strangler_playbook.errors import EngineError
from strangler_playbook.spec.column_types import bind_value, canonical

Key = tuple[Any, ...]
SQLITE_MAX_PARAMS = 30000
STAGE_ABOVE_ROWS = 64
COPY_WRITE_BYTES = 128 * 1024  # the most psycopg sends in one piece (its MAX_BUFFER_SIZE)


def in_list(
    db: Database, expression: str, values: Sequence[tuple[Any, ...]], *, negate: bool = False
) -> tuple[str, list[Any]]:
    """`expression IN (values)` as SQL and parameters; on PostgreSQL one array parameter for single columns."""
    width = len(values[0])
    if db.engine == "postgresql" and width == 1:
        sql = f"{expression} = ANY({db.ph})"
        return (f"NOT ({sql})" if negate else sql), [[v[0] for v in values]]
    placeholders = ", ".join([key_params_sql(db, width)] * len(values))
    return f"{expression} {'NOT IN' if negate else 'IN'} ({placeholders})", [v for t in values for v in t]


def next_bound(source: Database, table: Table, after: Key | None, chunk: int, upto: Key | None = None) -> Key | None:
    """The key of the chunk's last row: `chunk` rows past `after` in key order, or the last key if fewer (the last
    at or before `upto`, when given: a lane of a parallel copy)."""
    key = key_sql(source, table, side="source")
    where = table.source_filter()
    params: list[Any] = []
    if after is not None:
        where += f" AND {key} > {key_params_sql(source, len(after))}"
        params.extend(after)
    if upto is not None:
        where += f" AND {key} <= {key_params_sql(source, len(upto))}"
        params.extend(upto)
    base = f"SELECT {key_select_sql(table, side='source')} FROM {quote(table.source)} WHERE {where}"
    row = source.fetchone(
        f"{base} ORDER BY {key_order_sql(source, table, side='source')} LIMIT 1 OFFSET {chunk - 1}", params
    )
    if row is None:
        row = source.fetchone(
            f"{base} ORDER BY {key_order_sql(source, table, side='source', descending=True)} LIMIT 1", params
        )
    return tuple(row) if row is not None else None


def range_where(db: Database, table: Table, lo: Key | None, hi: Key | None, *, side: str) -> tuple[str, list[Any]]:
    key = key_sql(db, table, side=side)
    clauses = [table.source_filter()] if side == "source" else ["TRUE" if db.engine == "postgresql" else "1"]
    params: list[Any] = []
    if lo is not None:
        clauses.append(f"{key} > {key_params_sql(db, len(lo))}")
        params.extend(lo)
    if hi is not None:
        clauses.append(f"{key} <= {key_params_sql(db, len(hi))}")
        params.extend(hi)
    return " AND ".join(clauses), params


def read_range(source: Database, table: Table, lo: Key | None, hi: Key | None) -> list[tuple[Any, ...]]:
    where, params = range_where(source, table, lo, hi, side="source")
    return source.fetchall(
        f"SELECT {table.source_select_list()} FROM {quote(table.source)} WHERE {where} "
        f"ORDER BY {key_order_sql(source, table, side='source')}",
        params,
    )


def read_keys(source: Database, table: Table, keys: Sequence[Key]) -> list[tuple[Any, ...]]:
    """Current source rows (passing the filter) for `keys`; absent keys are simply not returned."""
    rows: list[tuple[Any, ...]] = []
    width = len(table.key_indexes)
    step = max(1, SQLITE_MAX_PARAMS // width)
    for start in range(0, len(keys), step):
        where, params = in_list(source, key_sql(source, table, side="source"), keys[start : start + step])
        rows.extend(
            source.fetchall(
                f"SELECT {table.source_select_list()} FROM {quote(table.source)} "
                f"WHERE {table.source_filter()} AND {where}",
                params,
            )
        )
    return rows


def convert(rows: Sequence[tuple[Any, ...]], table: Table, source: Database, target: Database) -> list[tuple[Any, ...]]:
    """Source driver values → target bind values. Same engine: as read; across engines: via canonical kinds."""
    if source.engine == target.engine:
        return [tuple(r) for r in rows]
    kinds = [c.kind for c in table.columns]
    engine = target.engine
    return [tuple(bind_value(canonical(v, k), k, engine) for v, k in zip(r, kinds, strict=True)) for r in rows]


def row_key(row: Sequence[Any], table: Table) -> Key:
    return tuple(row[i] for i in table.key_indexes)


def upsert(target: Database, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
    if not rows:
        return
    keys = set(table.key_targets)
    values = ", ".join([target.ph] * len(table.columns))
    conflict = ", ".join(quote(k) for k in table.key_targets)
    updates = ", ".join(
        f"{quote(c.target)} = excluded.{quote(c.target)}" for c in table.columns if c.target not in keys
    )
    action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    sql = (
        f"INSERT INTO {quote(table.target)} ({table.target_column_list()}) VALUES ({values}) "
        f"ON CONFLICT ({conflict}) {action}"
    )
    try:
        if target.engine == "postgresql" and len(rows) >= STAGE_ABOVE_ROWS:
            _upsert_staged(target, table, rows, f"ON CONFLICT ({conflict}) {action}")
        elif target.engine == "postgresql":
            with target.raw.cursor() as cur:
                cur.executemany(sql, rows)
        else:
            target.raw.executemany(sql, rows)
    except (psycopg.Error, sqlite3.Error) as exc:
        raise translate(target, exc, sql) from exc


def _upsert_staged(target: Database, table: Table, rows: Sequence[tuple[Any, ...]], on_conflict: str) -> None:
    """COPY the rows into a temporary table, then one INSERT … SELECT: ≈3x fewer round trips and plans."""
    stage = quote(f"_strangler_stage_{table.target}"[:63])
    columns = table.target_column_list()
    target.raw.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS "
        f"AS SELECT {columns} FROM {quote(table.target)} WITH NO DATA"
    )
    target.raw.execute(f"DELETE FROM {stage}")
    with target.raw.cursor() as cur, cur.copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    target.raw.execute(f"INSERT INTO {quote(table.target)} ({columns}) SELECT {columns} FROM {stage} {on_conflict}")


def clear_unique_conflicts(
    target: Database,
    table: Table,
    rows: Sequence[tuple[Any, ...]],
    unique_sets: Sequence[Sequence[str]] | None = None,
) -> None:
    """Delete target rows that hold a unique value an incoming row now has, under a different key.

    The source allowed the incoming row that value, so the target row holding it has changed since it was
    copied (its change is in this batch or a later one, which rewrites it); without this, a value moving
    from one row to another fails the batch on the target's unique index.
    """
    if not rows:
        return
    names = [c.target for c in table.columns]
    key = key_sql(target, table, side="target")
    keys = [row_key(r, table) for r in rows]
    for columns in unique_sets if unique_sets is not None else target.unique_column_sets(table.target):
        if not set(columns) <= set(names):
            continue
        positions = [names.index(c) for c in columns]
        values = [tuple(r[p] for p in positions) for r in rows]
        values = [v for v in values if None not in v]
        if not values:
            continue
        unique = quote(columns[0]) if len(columns) == 1 else "(" + ", ".join(quote(c) for c in columns) + ")"
        holds, holds_params = in_list(target, unique, values)
        other, other_params = in_list(target, key, keys, negate=True)
        target.execute(f"DELETE FROM {quote(table.target)} WHERE {holds} AND {other}", holds_params + other_params)


def replace_rows(
    target: Database,
    table: Table,
    rows: Sequence[tuple[Any, ...]],
    unique_sets: Sequence[Sequence[str]] | None = None,
) -> None:
    """Make the target hold exactly these rows for their keys, whatever unique values moved among them.

    The rows' keys are deleted first, then any other row holding one of their unique values, then the rows are
    written; within the caller's transaction, so readers never see the gap. An in-place upsert would fail when
    a value moves from row A to row B and B is written before A.
    """
    if not rows:
        return
    delete_keys(target, table, [row_key(r, table) for r in rows])
    clear_unique_conflicts(target, table, rows, unique_sets)
    upsert(target, table, rows)


def settle_unique_duplicates(
    source: Database, target: Database, table: Table, unique_sets: Sequence[Sequence[str]]
) -> int:
    """Before rebuilding dropped unique indexes: re-copy every row whose unique value is duplicated in the target.

    A value that moved between rows during the load leaves the stale holder (copied before the move) next to the
    new one. Both are re-read from the source, which holds the value once; a stale holder outside the group is
    cleared as in the sync (its own change is in the changelog). Returns the rows re-copied.
    """
    recopied = 0
    key = key_select_sql(table, side="target")
    for _ in range(10):
        keys: list[Key] = []
        for columns in unique_sets:
            cols = ", ".join(quote(c) for c in columns)
            not_null = " AND ".join(f"{quote(c)} IS NOT NULL" for c in columns)
            keys.extend(
                tuple(r)
                for r in target.fetchall(
                    f"SELECT {key} FROM {quote(table.target)} WHERE ({cols}) IN "
                    f"(SELECT {cols} FROM {quote(table.target)} WHERE {not_null} GROUP BY {cols} HAVING count(*) > 1)"
                )
            )
        if not keys:
            return recopied
        rows = convert(read_keys(source, table, keys), table, source, target)
        delete_keys(target, table, keys)
        replace_rows(target, table, rows, unique_sets)
        recopied += len(rows)
    raise EngineError(
        f"{table.target}: unique values keep colliding while rebuilding its indexes",
        hint="re-run the backfill; it resumes at the index rebuild",
    )


def delete_keys(target: Database, table: Table, keys: Sequence[Key]) -> None:
    if not keys:
        return
    width = len(table.key_targets)
    key = key_sql(target, table, side="target")
    step = max(1, SQLITE_MAX_PARAMS // width)
    for start in range(0, len(keys), step):
        where, params = in_list(target, key, keys[start : start + step])
        target.execute(f"DELETE FROM {quote(table.target)} WHERE {where}", params)


def target_keys(keys: Sequence[Key], table: Table, source: Database, target: Database) -> list[Key]:
    """Keys as `source`'s driver (or the changelog) gave them, as bind values for `target`'s engine."""
    if source.engine == target.engine:
        return list(keys)
    kinds = table.key_kinds
    return [
        tuple(bind_value(canonical(v, k), k, target.engine) for v, k in zip(key, kinds, strict=True)) for key in keys
    ]


def copy_range_pg(source: Database, target: Database, table: Table, lo: Key | None, hi: Key | None) -> int:
    """Stream one key range from source to target with COPY, inside the caller's target transaction.

    Binary when every column has the same declared type on both sides (no text formatting and parsing of
    timestamps and numerics); text otherwise, so the target's input functions convert compatible types.
    """
    same_types = all(c.source_type.lower() == c.target_type.lower() for c in table.columns)
    options = " (FORMAT BINARY)" if same_types else ""
    where, params = range_where(source, table, lo, hi, side="source")
    select = psycopg.ClientCursor(source.raw).mogrify(
        f"SELECT {table.source_select_list()} FROM {quote(table.source)} WHERE {where}", params
    )
    try:
        with source.raw.cursor() as scur, target.raw.cursor() as tcur:
            with (
                scur.copy(f"COPY ({select}) TO STDOUT{options}") as out,
                tcur.copy(f"COPY {quote(table.target)} ({table.target_column_list()}) FROM STDIN{options}") as into,
            ):
                # The source hands over one row at a time; the target gets blocks of COPY_WRITE_BYTES (one driver
                # call per block, not per row: a third less of the Python time a row costs, shared by the lanes).
                block = bytearray()
                for data in out:
                    block += data
                    if len(block) >= COPY_WRITE_BYTES:
                        into.write(block)
                        block = bytearray()
                if block:
                    into.write(block)
            return int(tcur.rowcount)
    except psycopg.Error as exc:
        raise translate(source if source.raw.closed else target, exc, f"COPY {table.source} → {table.target}") from exc
