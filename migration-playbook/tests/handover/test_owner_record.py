"""`record_owner` writes the owner of a spec's data into the monolith's database, where the monolith's seams read
it (docs/seam.md). The cutover and rollback that call it are proven with the real monolith in
e2e/test_seam_through_the_proxy.py; here, the record itself on both engines."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from typing import Any

import psycopg
import pytest

from strangler_playbook.handover.owner_record import OWNER_TABLE, record_owner


def _rows(url: str) -> list[tuple[Any, ...]]:
    statement = f'SELECT spec, owner, recorded_at FROM "{OWNER_TABLE}" ORDER BY spec'
    if url.startswith("sqlite:///"):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
            return list(conn.execute(statement))
    with psycopg.connect(url) as conn:
        return list(conn.execute(statement).fetchall())


def _execute(url: str, statement: str) -> None:
    if url.startswith("sqlite:///"):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn, conn:
            conn.execute(statement)
        return
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)


@pytest.mark.parametrize("engine", ["sqlite", "pg"])
def test_it_creates_the_table_and_records_each_flip_over_the_last(engine: str, make_db: Callable[[str], str]) -> None:
    monolith = make_db(engine)

    record_owner(monolith, "catalog", "service")
    [(spec, owner, first_at)] = _rows(monolith)
    assert (spec, owner) == ("catalog", "service")

    record_owner(monolith, "catalog", "monolith")
    record_owner(monolith, "reviews", "service")
    rows = _rows(monolith)
    assert [(spec, owner) for spec, owner, _ in rows] == [("catalog", "monolith"), ("reviews", "service")]
    assert rows[0][2] >= first_at  # ISO 8601 UTC: text order is time order


@pytest.mark.parametrize("engine", ["sqlite", "pg"])
def test_it_writes_into_the_table_the_monolith_migration_made(engine: str, make_db: Callable[[str], str]) -> None:
    monolith = make_db(engine)
    # monolith/ownership/migrations/0001_initial.py, as it runs on the monolith's database.
    _execute(
        monolith,
        'CREATE TABLE IF NOT EXISTS "_strangler_data_owner" ("spec" varchar(100) NOT NULL PRIMARY KEY, '
        '"owner" varchar(16) NOT NULL, "recorded_at" varchar(40) NOT NULL)',
    )

    record_owner(monolith, "catalog", "service")

    assert [(spec, owner) for spec, owner, _ in _rows(monolith)] == [("catalog", "service")]
