"""The service keeps the monolith's catalog tables exactly: same names, columns, types, nullability and indexes,
so the data engine maps them one to one."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
import pytest

from data_move import TABLES


def describe(url: str, table: str) -> dict[str, Any]:
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            columns = [row[1:] for row in conn.execute(f"PRAGMA table_info({table})")]
            indexes = sorted(row[1] for row in conn.execute(f"PRAGMA index_list({table})"))
            foreign = sorted(row[2:5] for row in conn.execute(f"PRAGMA foreign_key_list({table})"))
        return {"columns": columns, "indexes": indexes, "foreign_keys": foreign}
    with psycopg.connect(url) as conn:
        columns = conn.execute(
            "SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale, "
            "is_nullable, is_identity FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
            (table,),
        ).fetchall()
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s ORDER BY indexname", (table,)
        ).fetchall()
        checks = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass ORDER BY 1",
            (table,),
        ).fetchall()
    return {"columns": columns, "indexes": indexes, "constraints": checks}


@pytest.mark.parametrize("table", TABLES)
def test_the_service_table_is_the_monoliths(stack, table):
    monolith = describe(stack.monolith_database, table)
    service = describe(stack.catalog_database, table)

    assert monolith["columns"], f"{table} not found in the monolith's database"
    assert service == monolith


def test_both_report_healthy(monolith, service):
    assert monolith.ask("anon", "GET", "/healthz") == service.ask("anon", "GET", "/healthz")
    assert service.ask("anon", "GET", "/healthz").body == {"status": "ok", "database": "ok"}
