"""Everything one command needs: the spec (possibly reversed), both connections and the resolved tables."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

from strangler_playbook.capture import CaptureNames
from strangler_playbook.database import Database, connect
from strangler_playbook.errors import ConnectError, StateError
from strangler_playbook.schema import Table, resolve
from strangler_playbook.spec import Spec

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

    @property
    def capture(self) -> CaptureNames:
        return CaptureNames(self.spec.name)

    def table(self, source_name: str) -> Table | None:
        return next((t for t in self.tables if t.source == source_name), None)


def database_urls(spec: Spec, source_url: str | None, target_url: str | None, *, reverse: bool) -> tuple[str, str]:
    """The monolith-side and service-side URLs from the CLI, else from the environment variables the spec names."""
    src = source_url or os.environ.get(spec.source_url_env, "")
    tgt = target_url or os.environ.get(spec.target_url_env, "")
    if not src:
        raise ConnectError(
            "no source database URL", hint=f"pass --source URL or set {spec.source_url_env} (named by the spec)"
        )
    if not tgt:
        raise ConnectError(
            "no target database URL", hint=f"pass --target URL or set {spec.target_url_env} (named by the spec)"
        )
    return (tgt, src) if reverse else (src, tgt)


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
    """`source_url`/`target_url` are already in this run's direction (see `database_urls`).

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
