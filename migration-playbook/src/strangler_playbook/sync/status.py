"""Status: phase, rows copied, sync lag and the last verify, read from the target's state and the source's changelog."""

from __future__ import annotations

from typing import Any

from strangler_playbook.capture.feed import ChangeFeed
from strangler_playbook.capture.triggers import CaptureNames
from strangler_playbook.database.context import RunContext
from strangler_playbook.database.state import read_prefix


def read_status(ctx: RunContext) -> dict[str, Any]:
    state = read_prefix(ctx.target, ctx.prefix)
    position = state.get(ctx.prefix + "sync/position")
    pending = oldest = None
    if position is not None and ctx.source.table_exists(CaptureNames(ctx.spec.name).changelog):
        pending, oldest = ChangeFeed(ctx.source, ctx.spec.name).pending(position)
    tables = {}
    for table in ctx.tables:
        checkpoint = state.get(f"{ctx.prefix}backfill/{table.target}") or {}
        tables[table.target] = {
            "rows_copied": checkpoint.get("rows", 0),
            "backfill_done": bool(checkpoint.get("done")),
            "copied": checkpoint.get("mode") != "capture-only",  # False: a handover started the sync, no copy
            "last_key": checkpoint.get("last_key"),
        }
    totals = state.get(ctx.prefix + "sync/totals") or {}
    return {
        "spec": ctx.spec.name,
        "direction": ctx.direction,
        "phase": state.get(ctx.prefix + "phase", "not started"),
        "tables": tables,
        "rows_copied": sum(t["rows_copied"] for t in tables.values()),
        "sync": {
            "applied": totals.get("applied", 0),
            "pending_changes": pending,
            "lag_s": oldest if oldest is not None else (0.0 if pending == 0 else None),
        },
        "last_verify": state.get(ctx.prefix + "verify/last"),
    }
