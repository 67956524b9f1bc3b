"""Copy the catalog's rows from the monolith's database to the service's: the tables and columns are the same
by design, so a column-for-column copy is all a parity run needs (the migration engine does the real thing).

PostgreSQL identity sequences do not move when ids are inserted explicitly; they are realigned here, as the
engine does at each flip of ownership, so both sides give the next object the same id."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from typing import Any

import psycopg

TABLES = ("catalog_category", "catalog_product")


@contextlib.contextmanager
def _connect(url: str) -> Iterator[Any]:
    if url.startswith("sqlite:///"):
        conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
    else:
        conn = psycopg.connect(url)
    try:
        yield conn
        conn.commit()
    finally:
        conn.close()


def copy_catalog(source_url: str, target_url: str) -> dict[str, int]:
    """Replace the target's catalog rows with the source's; returns rows copied per table."""
    copied = {}
    with _connect(source_url) as source, _connect(target_url) as target:
        marker = "?" if isinstance(target, sqlite3.Connection) else "%s"
        for table in reversed(TABLES):
            target.execute(f"DELETE FROM {table}")  # noqa: S608  (a constant table name)
        for table in TABLES:
            cursor = source.execute(f"SELECT * FROM {table} ORDER BY id")  # noqa: S608
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
            insert = (
                f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
                f"VALUES ({', '.join([marker] * len(columns))})"
            )
            if isinstance(target, sqlite3.Connection):
                target.executemany(insert, rows)
                _align_sqlite_sequence(source, target, table)
            else:
                with target.cursor() as cur:
                    cur.executemany(insert, rows)
                _align_postgres_sequence(source, target, table)
            copied[table] = len(rows)
    return copied


def _align_sqlite_sequence(source: sqlite3.Connection, target: sqlite3.Connection, table: str) -> None:
    row = source.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    target.execute("DELETE FROM sqlite_sequence WHERE name = ?", (table,))
    if row is not None:
        target.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, row[0]))


def _align_postgres_sequence(source: psycopg.Connection, target: psycopg.Connection, table: str) -> None:
    find = "SELECT pg_get_serial_sequence(%s, 'id')"
    source_sequence = source.execute(find, (table,)).fetchone()[0]
    last_value, is_called = source.execute(f"SELECT last_value, is_called FROM {source_sequence}").fetchone()  # noqa: S608
    target.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, %s)", (table, last_value, is_called))
