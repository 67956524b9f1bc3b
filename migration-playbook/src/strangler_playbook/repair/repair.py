"""`strangler data repair SPEC`: give the rows that verify finds different the owner's version, under the same checks
as the sync, then verify again.

A difference that stays once the sync has caught up is drift: a write that reached one side without passing
capture (the monolith's admin writing a table the service owns, a hand-made fix in a database). Running the sync
again does nothing for it, since nothing was logged. Repair logs it: each differing key (missing, extra or
different) becomes one changelog entry on the source (`op` R), so the sync applies it like any change, in order
with the others and with everything a sync does (the spec's filter, unique values that moved, conversions between
engines, deletes of rows the owner does not have). A running `strangler data follow` applies them; otherwise repair
runs the sync itself (on PostgreSQL under the engine lock: when another engine holds it, that one applies them).
Then it waits until the sync has passed the entries and verifies again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from strangler_playbook.capture.feed import ChangeFeed
from strangler_playbook.capture.triggers import CaptureNames
from strangler_playbook.database.connection import connect, quote
from strangler_playbook.database.context import RunContext, open_context
from strangler_playbook.database.state import read_state
from strangler_playbook.errors import StateError
from strangler_playbook.handover.follow import FOLLOWER_STALE_S, follower_state_name
from strangler_playbook.handover.run import journal_name
from strangler_playbook.spec.spec import Spec
from strangler_playbook.sync.sync import require_backfilled, run_sync
from strangler_playbook.verify.verify import VerifyReport, run_verify

REPAIR_OP = "R"  # a changelog entry repair wrote: the sync treats it as "this key changed"
LOCK_TRY_S = 2.0
POLL_S = 0.05


@dataclass
class RepairResult:
    spec: str
    direction: str
    owner: str
    found: dict[str, dict[str, list[list[Any]]]] = field(default_factory=dict)  # table → missing/extra/different
    applied_by: str = ""  # "this command's sync" | "the running follower" | "" when nothing differed
    after: dict[str, Any] = field(default_factory=dict)  # the verify that followed

    @property
    def clean(self) -> bool:
        return bool(self.after.get("clean", True))

    def as_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "direction": self.direction,
            "owner": self.owner,
            "found": self.found,
            "applied_by": self.applied_by,
            "clean": self.clean,
            "verify": self.after,
        }


def run_repair(
    spec: Spec,
    source_url: str,
    target_url: str,
    *,
    reverse: bool,
    service_url: str,
    settle_s: float,
    on_step: Callable[[str, str], None] = lambda step, detail: None,
) -> RepairResult:
    """Repair the direction given (the owner's: `source_url` is the owner's database), wait, verify again."""
    with open_context(spec, source_url, target_url, reverse=reverse) as ctx:
        require_backfilled(ctx)
        result = RepairResult(spec.name, ctx.direction, "service" if reverse else "monolith")
        first = run_verify(ctx, settle_s=settle_s, record=False)
        result.found = _differing(first)
        if first.clean:
            on_step("verify", "clean: nothing to repair")
            result.after = first.as_dict()
            return result
        total = sum(len(keys) for kinds in result.found.values() for keys in kinds.values())
        on_step("verify", f"{total} row(s) differ although the sync passed every change logged meanwhile")
        head = _log_repairs(ctx, first)
        on_step("log", f"{total} repair entr{'y' if total == 1 else 'ies'} in {CaptureNames(spec.name).changelog}")
    result.applied_by = _apply(spec, source_url, target_url, reverse=reverse, service_url=service_url, head=head)
    on_step("apply", f"applied by {result.applied_by}")
    with open_context(spec, source_url, target_url, reverse=reverse) as ctx:
        _wait_until_passed(ctx, head, settle_s)
        after = run_verify(ctx, settle_s=settle_s)
    result.after = after.as_dict()
    on_step("verify", "clean" if after.clean else "still different")
    return result


def _differing(report: VerifyReport) -> dict[str, dict[str, list[list[Any]]]]:
    return {
        t["table"]: {kind: t[kind] for kind in ("missing", "extra", "different")}
        for t in report.as_dict()["tables"]
        if not t["clean"]
    }


def _log_repairs(ctx: RunContext, report: VerifyReport) -> dict[str, Any]:
    """One changelog entry per differing key, on the source, in one transaction; the changelog's head after them."""
    log = quote(CaptureNames(ctx.spec.name).changelog)
    by_target = {t.target: t for t in ctx.tables}
    with ctx.source.transaction():
        for table_report in report.tables:
            table = by_target[table_report.table]
            for key in [*table_report.missing, *table_report.extra, *table_report.different]:
                ctx.source.execute(
                    f"INSERT INTO {log} (tbl, op, pk) VALUES ({ctx.source.ph}, {ctx.source.ph}, {ctx.source.ph})",
                    (table.source, REPAIR_OP, json.dumps(list(key), default=str)),
                )
    return ChangeFeed(ctx.source, ctx.spec.name).head()


def _apply(
    spec: Spec, source_url: str, target_url: str, *, reverse: bool, service_url: str, head: dict[str, Any]
) -> str:
    """A live follower applies the entries; otherwise this command syncs (when another engine holds the lock, it
    does)."""
    if _follower_alive(spec, service_url):
        return "the running `strangler data follow`"
    try:
        with open_context(spec, source_url, target_url, reverse=reverse, exclusive=True, lock_wait_s=LOCK_TRY_S) as ctx:
            run_sync(ctx)
    except StateError:
        return "the engine process that holds the sync's lock"
    return "this command's sync"


def _follower_alive(spec: Spec, service_url: str) -> bool:
    """A `strangler data follow` heartbeat younger than FOLLOWER_STALE_S, not paused for a handover."""
    with closing(connect(service_url, role="target")) as db:
        beat = read_state(db, follower_state_name(spec.name)) or {}
        journal = read_state(db, journal_name(spec.name)) or {}
    fresh = bool(beat) and time.time() - float(beat.get("at", 0)) <= FOLLOWER_STALE_S
    return fresh and not beat.get("paused") and not journal.get("op")


def _wait_until_passed(ctx: RunContext, head: dict[str, Any], settle_s: float) -> None:
    feed = ChangeFeed(ctx.source, ctx.spec.name)
    deadline = time.monotonic() + max(settle_s, FOLLOWER_STALE_S)
    while time.monotonic() < deadline:
        position = read_state(ctx.target, ctx.prefix + "sync/position")
        if position is not None and feed.passed(position, head):
            return
        time.sleep(POLL_S)
