"""A handover's proof in two parts, so that its hold lasts drain + a small verify + the flip: a full verify before the
hold (writes flowing: what differs then is only suspect), and under the hold a row-by-row comparison of exactly the
keys that may differ — those suspects, and every key the changelog logged since the first verify's sync position.

Why the two make one proof: the sync stood at position P when the first verify began and nobody moved it since
(the follower paused for the handover; a moved position makes the hold's verify a full one again). A row whose key
is in no changelog entry after P did not change on the old owner since P, and the new owner only changes through
the sync, which had applied everything up to P: the first verify compared it in a state that still holds, and it
either agreed or is a suspect. Every other key is compared again under the hold, after the drain. A TRUNCATE after
P, a sync position missing, or more than `SUSPECTS_MAX` suspects: the hold's verify is the full one.

This run may move the position itself, right before the hold (`catch_up`): it applies what came since P without
pruning the changelog, so the keys logged after P are all still there, and the drain under the hold has only the
last few changes left to apply. The position must then be where that catch-up left it (`synced_to`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from strangler_playbook.capture.feed import ChangeFeed
from strangler_playbook.database.context import RunContext
from strangler_playbook.database.rows import Key
from strangler_playbook.database.state import read_state
from strangler_playbook.sync.sync import run_sync
from strangler_playbook.verify.verify import keys_of_differences, run_verify

SUSPECTS_MAX = 50_000


@dataclass(frozen=True)
class Baseline:
    position: dict[str, Any]  # the sync's position when the first verify began: every change up to it applied
    suspects: dict[str, set[Key]]  # by source table: every key of a range that differed then
    rows: int  # rows the first verify compared (source side)
    synced_to: dict[str, Any] | None = None  # where this run's `catch_up` left the sync (None: at `position`)


def verify_ahead(ctx: RunContext) -> Baseline | None:
    """With writes flowing: apply what is pending, then verify everything. None when the hold must verify in full."""
    run_sync(ctx)
    position = read_state(ctx.target, ctx.prefix + "sync/position")
    if not isinstance(position, dict):
        return None
    report = run_verify(ctx, record=False)
    suspects = keys_of_differences(ctx, report, SUSPECTS_MAX)
    if suspects is None:
        return None
    return Baseline(position, suspects, sum(t.source_rows for t in report.tables))


def catch_up(ctx: RunContext, baseline: Baseline) -> Baseline:
    """Writes still flowing, right before the hold: apply what came since the verify ahead, pruning nothing."""
    run_sync(ctx, prune=False)
    return replace(baseline, synced_to=read_state(ctx.target, ctx.prefix + "sync/position"))


def keys_to_compare(ctx: RunContext, baseline: Baseline | None) -> dict[str, set[Key]] | None:
    """Under the hold and before its drain (which prunes the changelog): the suspects and every key logged since
    the baseline's position, by source table; None when only a full verify proves the sides equal."""
    if baseline is None:
        return None
    expected = baseline.synced_to if baseline.synced_to is not None else baseline.position
    if read_state(ctx.target, ctx.prefix + "sync/position") != expected:
        return None
    changed = ChangeFeed(ctx.source, ctx.spec.name).keys_since(baseline.position)
    if changed is None:
        return None
    keys = {table: set(found) for table, found in baseline.suspects.items()}
    for table, found in changed.items():
        keys.setdefault(table, set()).update(found)
    return keys
