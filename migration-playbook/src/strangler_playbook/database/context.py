"""Everything one command needs: the spec (possibly reversed), both connections and the resolved tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

from strangler_playbook.database.connection import Database, connect, translate
from strangler_playbook.database.schema import Table, resolve
from strangler_playbook.errors import StateError
from strangler_playbook.spec.spec import Spec

FORWARD = "forward"
REVERSE = "reverse"


@dataclass
class RunContext:
    spec: Spec
    direction: str
    source: Database
    target: Database
    tables: list[Table]

    @property
    def prefix(self) -> str:
        return f"{self.spec.name}/{self.direction}/"

    def table(self, source_name: str) -> Table | None:
        return next((t for t in self.tables if t.source == source_name), None)


ENGINE_LOCK_WAIT_S = 60.0


def _lock(ctx: RunContext, wait_s: float) -> None:
    if ctx.target.engine != "postgresql":
        return
    try:
        ctx.target.raw.execute(f"SET lock_timeout = '{int(wait_s * 1000)}ms'")
        ctx.target.raw.execute("SELECT pg_advisory_lock(hashtext(%s))", ("strangler:" + ctx.prefix,))
        ctx.target.raw.execute("RESET lock_timeout")
    except psycopg.errors.LockNotAvailable as exc:
        raise StateError(
            f"another engine process is running for {ctx.spec.name} ({ctx.direction}) on {ctx.target.display}",
            hint="wait for it to finish or stop it; only one backfill or sync may write a spec at a time",
        ) from exc
    except psycopg.Error as exc:
        raise translate(ctx.target, exc) from exc


@contextmanager
def open_context(
    spec: Spec,
    source_url: str,
    target_url: str,
    *,
    reverse: bool = False,
    require_target: bool = True,
    exclusive: bool = False,
    lock_wait_s: float = ENGINE_LOCK_WAIT_S,
) -> Iterator[RunContext]:
    """`source_url`/`target_url` are already in this run's direction (`Settings.database_urls` gives them so).

    `exclusive` (backfill, sync) takes a session lock in a PostgreSQL target so that two engine processes never
    write the same spec and direction at once. A killed engine's backend may still be finishing a statement, so
    the lock is waited for (bounded), not merely tried.
    """
    effective = spec.reversed() if reverse else spec
    source = connect(source_url, role="source")
    try:
        target = connect(target_url, role="target", for_writes=True)
    except BaseException:
        source.close()
        raise
    try:
        tables = [resolve(t, source, target, require_target=require_target) for t in effective.tables]
        ctx = RunContext(effective, REVERSE if reverse else FORWARD, source, target, tables)
        if exclusive:
            _lock(ctx, lock_wait_s)
        yield ctx
    finally:
        source.close()
        target.close()
