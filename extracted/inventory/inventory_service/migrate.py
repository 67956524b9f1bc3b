"""Plain SQL migrations: `migrations/NNNN_name.sql`, applied in name order, each in one transaction together with
its row in `inventory_service_migration`. Re-running applies only what is missing; two concurrent runs take turns."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import psycopg

from inventory_service.errors import MigrationError

TABLE = "inventory_service_migration"
# Any constant shared by every migrate run of this service: pg_advisory_xact_lock serialises them.
LOCK_ID = 0x1A7E_0001


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str


def available() -> list[Migration]:
    folder = resources.files("inventory_service") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [Migration(name=f.name.removesuffix(".sql"), sql=f.read_text(encoding="utf-8")) for f in files]


def migrate(database_url: str) -> list[str]:
    """Apply every migration not yet applied; return the names applied now."""
    applied_now = []
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (name text PRIMARY KEY, applied_at timestamptz NOT NULL)")
            for migration in available():
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_ID,))
                    done = conn.execute(f"SELECT 1 FROM {TABLE} WHERE name = %s", (migration.name,)).fetchone()  # noqa: S608
                    if done:
                        continue
                    try:
                        conn.execute(migration.sql.encode("utf-8"))
                    except psycopg.Error as exc:
                        raise MigrationError(f"migration {migration.name} failed: {exc}") from exc
                    conn.execute(f"INSERT INTO {TABLE} (name, applied_at) VALUES (%s, now())", (migration.name,))  # noqa: S608
                applied_now.append(migration.name)
    except psycopg.OperationalError as exc:
        raise MigrationError(f"cannot reach the database at DATABASE_URL: {exc}") from exc
    return applied_now


def pending(database_url: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (TABLE,)).fetchone()
        done = set()
        if exists and exists[0]:
            done = {row[0] for row in conn.execute(f"SELECT name FROM {TABLE}")}  # noqa: S608
    return [m.name for m in available() if m.name not in done]
