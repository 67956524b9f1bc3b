"""One database per service and engine for a run: SQLite files in a temporary folder, or PostgreSQL databases
named strangler_e2e_<run>_<service>, created here and dropped afterwards."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

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
