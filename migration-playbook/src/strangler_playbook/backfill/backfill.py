"""Backfill: copy every source row to the target in keyset-ordered chunks, each committed with its checkpoint.

Order of operations is what makes the hand-off to the sync gap-free:
1. install change capture on the source (triggers commit before any row is read);
2. record the sync's start position (a snapshot taken after capture is live) — once, never on resume;
3. copy chunks; each chunk's rows and its checkpoint commit in one target transaction, so a kill -9 leaves
   either both or neither, and the resumed run starts exactly after the last committed chunk.
Any row changed after step 2 is in the changelog; any row changed before it is seen by the chunk reads.

Measured cost per chunk (catalog_product rows, 2 cores shared with a load average of ≈4, PostgreSQL 15): COPY
path, 50k rows ≈ 430 ms; upsert path, 2k rows ≈ 200 ms into PostgreSQL (6 indexes), ≈ 70 ms into SQLite.
The index rebuild after a COPY load is about as long again as the load itself.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psycopg

from strangler_playbook.backfill.index_deferral import deferrable_indexes, parallel_builds, rebuild
from strangler_playbook.backfill.progress import Reporter, SilentReporter
from strangler_playbook.capture.feed import ChangeFeed
from strangler_playbook.capture.triggers import capture_installed, install_capture
from strangler_playbook.database.connection import connect
from strangler_playbook.database.context import RunContext
from strangler_playbook.database.rows import (
    Key,
    convert,
    copy_range_pg,
    next_bound,
    read_range,
    replace_rows,
    settle_unique_duplicates,
)
from strangler_playbook.database.schema import Table
from strangler_playbook.database.state import ensure_state_table, read_prefix, read_state, write_state
from strangler_playbook.errors import EngineError, StateError

COPY_CHUNK_ROWS = 50_000
UPSERT_CHUNK_ROWS = 2_000
# Key ranges copied at once (PostgreSQL to PostgreSQL), each on a connection pair of its own.
COPY_LANES = 3
LANE_MIN_ROWS = 100_000  # a smaller table is copied in one lane: more would cost more connections than they save
# Deferred index builds at once, each on a connection of its own (and the server's parallel workers): a table's
# usual handful all start together, so none waits for a slot and then runs alone at the end. Each may take
# maintenance_work_mem (index_deferral). Both knobs by bench/data/backfill_knobs.py (10^6 rows, 5 builds, 2 shared
# cores at a load average of 6-9, medians of 5): 3 ranges and all builds at once 6.09 s (index builds 2.61 s);
# 4 builds at a time 6.60 s (3.14 s); 4 ranges 6.71 s; 2 ranges 7.40 s.
INDEX_BUILDS_AT_ONCE = 6
# A table's checkpoint when its sync starts from a verified-equal state, with no copy (`capture_only`, a handover).
CAPTURE_ONLY: dict[str, Any] = {
    "mode": "capture-only",
    "last_key": None,
    "rows": 0,
    "done": True,
    "deferred_indexes": [],
}


@dataclass
class TableResult:
    table: str
    mode: str
    rows: int
    chunks: int
    seconds: float
    index_seconds: float = 0.0  # rebuilding the secondary indexes dropped for the load (part of `seconds`)


@dataclass
class BackfillResult:
    tables: list[TableResult] = field(default_factory=list)
    resumed: bool = False

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


def run_backfill(
    ctx: RunContext,
    *,
    chunk_rows: int | None = None,
    throttle_rows_per_s: float = 0,
    reporter: Reporter | None = None,
    use_copy: bool = True,
    allow_nonempty: bool = False,
    capture_only: bool = False,
    lanes: int | None = None,
) -> BackfillResult:
    """Copy every row after installing capture; `capture_only` skips the copy for tables already equal.

    `capture_only` is for the start of the reverse sync at cutover, when writes are held and verify has just
    proved both sides equal: it installs capture and records the start position without re-copying.

    `lanes`: key ranges a COPY load copies at once, each on its connection pair (default: `COPY_LANES` for a table
    of at least `LANE_MIN_ROWS` rows a lane, else one).
    """
    reporter = reporter or SilentReporter()
    target = ctx.target
    if read_state(target, ctx.prefix + "sync/position") is None and not (allow_nonempty or capture_only):
        for table in ctx.tables:
            if not target.is_empty(table.target):
                raise StateError(
                    f"target table {table.target} already has rows, and no backfill of spec {ctx.spec.name} started",
                    hint="empty the target tables, or pass --allow-nonempty to upsert over them "
                    "(verify then reports rows the source does not have)",
                )
    ensure_state_table(target)
    result = BackfillResult()
    # Re-creating triggers takes a brief exclusive lock on each live table: only do it when something is missing.
    if not all(capture_installed(ctx.source, ctx.spec.name, [t.source for t in ctx.tables]).values()):
        install_capture(ctx.source, ctx.spec.name, ctx.tables)
    with target.transaction():
        if read_state(target, ctx.prefix + "sync/position") is None:
            write_state(target, ctx.prefix + "sync/position", ChangeFeed(ctx.source, ctx.spec.name).start_position())
        else:
            result.resumed = True
        if read_state(target, ctx.prefix + "phase") in (None, "capture-installed"):
            write_state(target, ctx.prefix + "phase", "backfilling")
    for table in ctx.tables:
        if capture_only:
            with target.transaction():
                if read_state(target, checkpoint_name(ctx, table)) is None:
                    write_state(target, checkpoint_name(ctx, table), CAPTURE_ONLY)
            continue
        result.tables.append(_backfill_table(ctx, table, chunk_rows, throttle_rows_per_s, reporter, use_copy, lanes))
    with target.transaction():
        if read_state(target, ctx.prefix + "phase") == "backfilling":
            write_state(target, ctx.prefix + "phase", "backfilled")
    return result


def checkpoint_name(ctx: RunContext, table: Table) -> str:
    return f"{ctx.prefix}backfill/{table.target}"


def _backfill_table(
    ctx: RunContext,
    table: Table,
    chunk_rows: int | None,
    throttle: float,
    reporter: Reporter,
    use_copy: bool,
    lanes: int | None,
) -> TableResult:
    source = ctx.source
    name = checkpoint_name(ctx, table)
    checkpoint: dict[str, Any] | None = read_state(ctx.target, name)
    started = time.monotonic()
    if checkpoint is None:
        checkpoint = _first_checkpoint(ctx, table, use_copy)
    if checkpoint["done"]:
        return TableResult(table.target, checkpoint["mode"], 0, 0, 0.0)
    mode = checkpoint["mode"]
    chunk = chunk_rows or (COPY_CHUNK_ROWS if mode == "copy" else UPSERT_CHUNK_ROWS)
    reporter.start(table.target, source.row_estimate(table.source, table.spec.filter), checkpoint["rows"])
    if mode == "copy" and "lanes" not in checkpoint and checkpoint["last_key"] is None and not throttle:
        checkpoint = _plan_lanes(ctx, table, checkpoint, lanes)
    if checkpoint.get("lanes"):
        copied, chunks, checkpoint = _copy_lanes(ctx, table, checkpoint, chunk, reporter)
    else:
        copied, chunks, checkpoint = _copy_in_order(ctx, table, checkpoint, chunk, throttle, reporter, started)
    rebuild_started = time.monotonic()
    _finish_table(ctx, table, checkpoint)
    now = time.monotonic()
    return TableResult(table.target, mode, copied, chunks, now - started, now - rebuild_started)


def _copy_in_order(
    ctx: RunContext,
    table: Table,
    checkpoint: dict[str, Any],
    chunk: int,
    throttle: float,
    reporter: Reporter,
    started: float,
) -> tuple[int, int, dict[str, Any]]:
    """One chunk after another on the run's connections, each committed with the table's checkpoint."""
    source, target = ctx.source, ctx.target
    name = checkpoint_name(ctx, table)
    last = tuple(checkpoint["last_key"]) if checkpoint["last_key"] is not None else None
    copied = chunks = 0
    while True:
        bound = next_bound(source, table, last, chunk)
        if bound is None:
            break
        with target.transaction():
            if checkpoint["mode"] == "copy":
                count = copy_range_pg(source, target, table, last, bound)
            else:
                rows = convert(read_range(source, table, last, bound), table, source, target)
                replace_rows(target, table, rows)
                count = len(rows)
            checkpoint = {**checkpoint, "last_key": list(bound), "rows": checkpoint["rows"] + count}
            write_state(target, name, checkpoint)
        last = bound
        copied += count
        chunks += 1
        reporter.advance(count)
        if throttle > 0:
            # Sleep until this run's average rate is back under the limit.
            ahead = copied / throttle - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    return copied, chunks, checkpoint


def lane_name(ctx: RunContext, table: Table, lane: int) -> str:
    return f"{checkpoint_name(ctx, table)}/lane/{lane}"


def _plan_lanes(ctx: RunContext, table: Table, checkpoint: dict[str, Any], lanes: int | None) -> dict[str, Any]:
    """Split the key range into `lanes` ranges of about as many rows, their bounds saved in the checkpoint once (a
    resumed run copies the same ranges); none for one lane, which copies in order."""
    source = ctx.source
    estimate = source.row_estimate(table.source, table.spec.filter)
    count = lanes if lanes is not None else min(COPY_LANES, estimate // LANE_MIN_ROWS)
    bounds: list[list[Any]] = []
    if count > 1:
        per_lane = max(1, -(-estimate // count))
        bound: Key | None = None
        for _ in range(count - 1):
            bound = next_bound(source, table, bound, per_lane)
            if bound is None or (bounds and list(bound) == bounds[-1]):
                break
            bounds.append(list(bound))
    edges: list[list[Any] | None] = [None, *bounds, None]
    planned = [[edges[i], edges[i + 1]] for i in range(len(edges) - 1)] if bounds else []
    checkpoint = {**checkpoint, "lanes": planned}
    with ctx.target.transaction():
        write_state(ctx.target, checkpoint_name(ctx, table), checkpoint)
    return checkpoint


def _copy_lanes(
    ctx: RunContext, table: Table, checkpoint: dict[str, Any], chunk: int, reporter: Reporter
) -> tuple[int, int, dict[str, Any]]:
    """The planned key ranges at once, each on a connection pair of its own (a thread each: the copy waits on the
    databases, not on Python), each chunk committed with its lane's checkpoint (`<table>/lane/<n>`), so a kill
    leaves every lane resumable after its own last chunk. The first failure stops every lane."""
    lanes = checkpoint["lanes"]
    saved = read_prefix(ctx.target, checkpoint_name(ctx, table) + "/lane/")
    progress = [
        saved.get(lane_name(ctx, table, i)) or {"last_key": lo, "rows": 0, "done": False}
        for i, (lo, _) in enumerate(lanes)
    ]
    stop = threading.Event()
    advance = threading.Lock()
    totals = {"copied": 0, "chunks": 0}

    def lane(index: int) -> None:
        hi = tuple(lanes[index][1]) if lanes[index][1] is not None else None
        mine = progress[index]
        if mine["done"]:
            return
        source = connect(ctx.source.url, role="source")
        target = connect(ctx.target.url, role="target", for_writes=True)
        try:
            last = tuple(mine["last_key"]) if mine["last_key"] is not None else None
            while not stop.is_set():
                bound = next_bound(source, table, last, chunk, upto=hi)
                with target.transaction():
                    count = copy_range_pg(source, target, table, last, bound) if bound is not None else 0
                    mine = {
                        "last_key": list(bound) if bound is not None else mine["last_key"],
                        "rows": mine["rows"] + count,
                        "done": bound is None,
                    }
                    write_state(target, lane_name(ctx, table, index), mine)
                progress[index] = mine
                if bound is None:
                    return
                last = bound
                with advance:
                    totals["copied"] += count
                    totals["chunks"] += 1
                    reporter.advance(count)
        finally:
            source.close()
            target.close()

    failures: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=len(lanes), thread_name_prefix=f"backfill {table.target}") as pool:
        for future in [pool.submit(lane, i) for i in range(len(lanes))]:
            try:
                future.result()
            except BaseException as exc:  # every lane is waited for; the first failure is the run's
                stop.set()
                failures.append(exc)
    if failures:
        raise failures[0]
    rows = sum(int(p["rows"]) for p in progress)
    return totals["copied"], totals["chunks"], {**checkpoint, "rows": checkpoint["rows"] + rows}


def _finish_table(ctx: RunContext, table: Table, checkpoint: dict[str, Any]) -> None:
    """Build the indexes dropped for the load, then mark the table done. Each index is built on a connection of its
    own, at once (`parallel_builds`: a unique constraint as its index, attached after), committed as it ends: a kill
    leaves the built ones, which a resumed run does not build again. The constraints are attached and the table
    marked done in one transaction.

    A unique one finds a value twice only when it moved between rows during the load: then (and only then: looking
    for duplicates costs a scan and a sort per unique set, as much as building the index) the rows holding it are
    copied again, and the build redone."""
    source, target = ctx.source, ctx.target
    builds, finish = parallel_builds(checkpoint["deferred_indexes"])

    def build(statement: str) -> EngineError | None:
        db = connect(target.url, role="target", for_writes=True)
        try:
            with db.transaction():
                rebuild(db, [statement])
            return None
        except EngineError as exc:
            return exc
        finally:
            db.close()

    with ThreadPoolExecutor(max_workers=max(1, min(len(builds), INDEX_BUILDS_AT_ONCE))) as pool:
        failed = [(b, e) for b, e in zip(builds, pool.map(build, builds), strict=True) if e is not None]
    duplicates = [b for b, e in failed if isinstance(e.__cause__, psycopg.errors.UniqueViolation)]
    if len(duplicates) < len(failed):
        raise next(e for _, e in failed if not isinstance(e.__cause__, psycopg.errors.UniqueViolation))
    if duplicates:
        settle_unique_duplicates(source, target, table, checkpoint.get("unique_sets", []))
    with target.transaction():
        if duplicates or finish:
            rebuild(target, duplicates + finish)
        write_state(target, checkpoint_name(ctx, table), {**checkpoint, "done": True, "deferred_indexes": []})


def _first_checkpoint(ctx: RunContext, table: Table, use_copy: bool) -> dict[str, Any]:
    source, target = ctx.source, ctx.target
    empty = target.is_empty(table.target)
    mode = "copy" if use_copy and empty and source.engine == target.engine == "postgresql" else "upsert"
    checkpoint: dict[str, Any] = {"mode": mode, "last_key": None, "rows": 0, "done": False, "deferred_indexes": []}
    with target.transaction():
        if mode == "copy":
            checkpoint["unique_sets"] = [list(s) for s in target.unique_column_sets(table.target)]
            deferred = deferrable_indexes(target, table.target)
            for index in deferred:
                target.execute(index.drop)
            checkpoint["deferred_indexes"] = [index.create for index in deferred]
        write_state(target, checkpoint_name(ctx, table), checkpoint)
    return checkpoint
