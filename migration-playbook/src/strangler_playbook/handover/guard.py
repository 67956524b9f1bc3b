"""Evidence for retire: after cutover, a statement-level trigger on each monolith table logs every write that is not
the reverse sync's, into `_strangler_<spec>_guard` on the monolith.

The reverse sync writes with `session_replication_role = replica`, which skips ordinary triggers, so the guard sees
only foreign writes (the monolith's admin, another app, a script). That needs a PostgreSQL monolith where the
engine's role may set replica; elsewhere (SQLite, or without the privilege) no guard is installed and retire's
proof is the drained sync plus a clean verify alone (`installed` says which).

Installing or removing the guard's triggers locks each table (ACCESS EXCLUSIVE) while the monolith may be writing
them: a rollback removes it after releasing the held writes, which go to the monolith at once. A writer may take
the tables in another order than the spec's (placing an order locks `inventory_stock`, then reads
`inventory_warehouse`): the guard and it would deadlock, and PostgreSQL would end one of the two (a customer's 500,
or the rollback stopping after its commit). So each attempt waits at most `LOCK_WAIT_MS` for a table (below the
server's `deadlock_timeout`, 1 s by default, so the detector never runs) and gives way, all of it rolled back; the
next attempt starts after the writers went on. Should the server detect a deadlock sooner, the engine's side is
retried the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from strangler_playbook.database.connection import Database, connect, quote
from strangler_playbook.errors import PlaybookError
from strangler_playbook.spec.spec import Spec

LOCK_WAIT_MS = 100
ATTEMPTS = 100  # each waits at most LOCK_WAIT_MS, then a pause growing to 50 ms: some seconds in all
GIVE_WAY = {"55P03", "40P01"}  # PostgreSQL's SQLSTATEs: lock_timeout ran out; this side ended by a deadlock


def guard_table(spec_name: str) -> str:
    return f"_strangler_{spec_name}_guard"


def _trigger(spec_name: str, table: str) -> str:
    return f"_strangler_{spec_name}_guard_{table}"[:63]


def install_guard(monolith_url: str, spec_name: str, tables: list[str]) -> bool:
    """Install the guard on the monolith's `tables`; False (nothing installed) where it could not tell sync writes
    from foreign ones."""
    db = connect(monolith_url, role="target", for_writes=True)
    try:
        if db.engine != "postgresql" or db.scalar("SHOW session_replication_role") != "replica":
            return False
        log = quote(guard_table(spec_name))

        def install() -> None:
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {log} (id bigserial PRIMARY KEY, tbl text NOT NULL, op text NOT NULL, "
                "at timestamptz NOT NULL DEFAULT clock_timestamp(), who text NOT NULL DEFAULT current_user)"
            )
            for table in tables:
                trigger = quote(_trigger(spec_name, table))
                name = table.replace("'", "''")
                db.execute(
                    f"CREATE OR REPLACE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $guard$ "
                    f"BEGIN INSERT INTO {log} (tbl, op) VALUES ('{name}', TG_OP); RETURN NULL; END $guard$"
                )
                db.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {quote(table)}")
                db.execute(
                    f"CREATE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {quote(table)} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION {trigger}()"
                )

        _giving_way(db, install)
        return True
    finally:
        db.close()


def uninstall_guard(monolith_url: str, spec_name: str, tables: list[str]) -> None:
    db = connect(monolith_url, role="target", for_writes=True)
    try:
        if db.engine != "postgresql":
            return

        def uninstall() -> None:
            for table in tables:
                trigger = quote(_trigger(spec_name, table))
                if db.table_exists(table):
                    db.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {quote(table)}")
                db.execute(f"DROP FUNCTION IF EXISTS {trigger}()")
            db.execute(f"DROP TABLE IF EXISTS {quote(guard_table(spec_name))}")

        _giving_way(db, uninstall)
    finally:
        db.close()


def _giving_way(db: Database, change: Callable[[], None]) -> None:
    """Run `change` in one PostgreSQL transaction whose every lock wait is bounded (see the module's docstring);
    again, from the start, while a wait ran out."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with db.transaction():
                db.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT_MS}ms'")
                change()
            return
        except PlaybookError as exc:
            if getattr(exc.__cause__, "sqlstate", None) not in GIVE_WAY or attempt == ATTEMPTS:
                raise
        time.sleep(min(0.05, 0.005 * attempt))


def foreign_writes(db: Database, spec_name: str) -> dict[str, int] | None:
    """`table op` → statements logged by the guard; None when no guard is installed."""
    if not db.table_exists(guard_table(spec_name)):
        return None
    rows = db.fetchall(f"SELECT tbl, op, count(*) FROM {quote(guard_table(spec_name))} GROUP BY tbl, op ORDER BY 1, 2")
    return {f"{tbl} {op}": int(count) for tbl, op, count in rows}


def set_guard(monolith_url: str, spec: Spec, *, on: bool) -> bool:
    """On while the service owns the data (set after cutover's commit), off otherwise (rollback, retire). True
    when a guard now logs foreign writes."""
    tables = [t.source for t in spec.tables]
    if on:
        return install_guard(monolith_url, spec.name, tables)
    uninstall_guard(monolith_url, spec.name, tables)
    return False
