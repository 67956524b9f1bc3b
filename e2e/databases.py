"""One database per service and engine for a run: SQLite files in a temporary folder, or PostgreSQL databases
named strangler_e2e_<run>_<service>, created here and dropped afterwards."""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

POSTGRES_VARIABLE = "STRANGLER_TEST_POSTGRES"
RUN = secrets.token_hex(4)


def postgres_server() -> str | None:
    return os.environ.get(POSTGRES_VARIABLE) or None


def _with_database(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


@contextlib.contextmanager
def database(engine: str, service: str, folder: Path) -> Iterator[str]:
    if engine == "sqlite":
        yield f"sqlite:///{folder / f'{service}.sqlite3'}"
        return
    server = postgres_server()
    assert server, f"{POSTGRES_VARIABLE} is not set"
    name = f"strangler_e2e_{RUN}_{service}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(server, name)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sql(url: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run `statement` (`%s` placeholders) on the database at `url`, SQLite or PostgreSQL, committed; its rows."""
    if url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"), timeout=10)) as conn, conn:
            return list(conn.execute(statement.replace("%s", "?"), params))
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement, params)  # type: ignore[arg-type]
        return list(cursor.fetchall()) if cursor.description else []
