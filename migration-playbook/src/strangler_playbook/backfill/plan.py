"""Plan: read the spec and both databases and say exactly what backfill and sync would do. Changes nothing."""

from __future__ import annotations

from typing import Any

from strangler_playbook.backfill.index_deferral import deferrable_indexes
from strangler_playbook.capture.triggers import CaptureNames, capture_installed
from strangler_playbook.database.context import RunContext
from strangler_playbook.database.state import read_prefix


def make_plan(ctx: RunContext) -> dict[str, Any]:
    source, target = ctx.source, ctx.target
    state = read_prefix(target, ctx.prefix)
    captured = capture_installed(source, ctx.spec.name, [t.source for t in ctx.tables])
    position = state.get(ctx.prefix + "sync/position")
    tables = []
    steps: list[str] = []
    if not all(captured.values()):
        missing = [t for t, ok in captured.items() if not ok]
        changelog = CaptureNames(ctx.spec.name).changelog
        steps.append(f"install change capture (changelog {changelog} + triggers) on {', '.join(missing)}")
    if position is None:
        steps.append("record the sync start position (changes after it are applied by `sync`)")
    for table in ctx.tables:
        checkpoint = state.get(f"{ctx.prefix}backfill/{table.target}")
        source_rows = source.row_estimate(table.source, table.spec.filter)
        target_rows = target.row_estimate(table.target) if table.target_exists else None
        target_fks = target.foreign_keys(table.target) if table.target_exists else {}
        empty = table.target_exists and target.is_empty(table.target)
        fast = empty and source.engine == target.engine == "postgresql"
        deferred = len(deferrable_indexes(target, table.target)) if fast and checkpoint is None else 0
        external = [{"column": c, "target_has_foreign_key": c in target_fks} for c in table.spec.external_ids]
        info: dict[str, Any] = {
            "source": table.source,
            "target": table.target,
            "key": list(table.key_targets),
            "filter": table.spec.filter,
            "source_rows": source_rows,
            "target_exists": table.target_exists,
            "target_rows": target_rows,
            "columns": [
                {
                    "target": c.target,
                    "source": c.source,
                    "kind": c.kind.name + (f"({c.kind.scale})" if c.kind.scale is not None else ""),
                }
                for c in table.columns
            ],
            "external_ids": external,
            "capture_installed": captured[table.source],
            "checkpoint": checkpoint,
        }
        tables.append(info)
        if not table.target_exists:
            steps.append(f"STOP: target table {table.target} is missing — create the target schema first")
        elif checkpoint and checkpoint.get("done") and checkpoint.get("mode") == "capture-only":
            steps.append(f"{table.target}: no copy (the sync started at a handover, both sides verified equal)")
        elif checkpoint and checkpoint.get("done"):
            steps.append(f"{table.target}: backfill done ({checkpoint['rows']} rows); sync keeps it current")
        elif checkpoint and checkpoint.get("lanes"):
            lanes = [v for k, v in state.items() if k.startswith(f"{ctx.prefix}backfill/{table.target}/lane/")]
            steps.append(
                f"{table.target}: resume backfill in {len(checkpoint['lanes'])} key ranges at once, each after its "
                f"last chunk ({sum(int(lane['rows']) for lane in lanes)} rows copied)"
            )
        elif checkpoint:
            steps.append(
                f"{table.target}: resume backfill after key {checkpoint['last_key']} ({checkpoint['rows']} rows copied)"
            )
        elif fast:
            steps.append(
                f"{table.target}: copy ≈{source_rows} rows with COPY streamed between connections"
                + (
                    f", dropping {deferred} secondary indexes first and rebuilding them after the load"
                    if deferred
                    else ""
                )
            )
        else:
            engines = f"{source.engine} → {target.engine}"
            how = "upserts (target not empty)" if table.target_exists and not empty else "batched inserts"
            steps.append(f"{table.target}: copy ≈{source_rows} rows in keyset chunks as {how}, {engines}")
        for ext in external:
            if ext["target_has_foreign_key"]:
                steps.append(
                    f"WARNING: {table.target}.{ext['column']} is declared an external id, "
                    "but the target has a foreign key on it"
                )
    return {
        "spec": ctx.spec.name,
        "direction": ctx.direction,
        "routes": list(ctx.spec.routes),
        "source": {"engine": source.engine, "url": source.display},
        "target": {"engine": target.engine, "url": target.display, "bypasses_constraints": target.bypasses_constraints},
        "phase": state.get(ctx.prefix + "phase", "not started"),
        "sync_position": position,
        "last_verify": state.get(ctx.prefix + "verify/last"),
        "tables": tables,
        "steps": steps,
    }
