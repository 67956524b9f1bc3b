"""The steps a cutover and a rollback are made of, each safe to do again: hold, drain, verify, realign, flip,
start capture the other way, set a route's stage, release, and undo a flip when aborting.

`cutover.py` and `rollback.py` put them in order for each direction; the run's journal (`run.py`) records how far
they got so a re-run converges.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from strangler_playbook.backfill.backfill import run_backfill
from strangler_playbook.capture.triggers import capture_installed, uninstall_capture
from strangler_playbook.database.context import RunContext
from strangler_playbook.database.state import delete_prefix
from strangler_playbook.errors import HandoverAborted, StateError, summary
from strangler_playbook.handover.follow import wait_for_follower
from strangler_playbook.handover.guard import set_guard
from strangler_playbook.handover.owner_record import record_owner
from strangler_playbook.handover.proxy_seam import Owner, ProxyControl, WriteHold
from strangler_playbook.handover.publish import publish_verified
from strangler_playbook.handover.run import HandoverRun
from strangler_playbook.handover.sequences import realign_sequences
from strangler_playbook.spec.spec import Spec
from strangler_playbook.sync.sync import drain
from strangler_playbook.verify.verify import require_clean

DEFAULT_HOLD_TIMEOUT_S = 10.0
DEFAULT_MAX_QUEUE = 1000
AUTHOR_NOTE = "strangler data"


def require_routes(spec: Spec) -> None:
    if not spec.routes:
        raise StateError(
            f"spec {spec.name} names no routes: there is nothing for the proxy to hold or move",
            hint='add routes = ["/api/..."] to the spec',
        )


def start_holding(
    run: HandoverRun,
    proxy: ProxyControl,
    journal: dict[str, Any],
    hold_timeout_s: float,
    max_queue: int,
    *,
    owner: Owner,
) -> WriteHold:
    """Pause the follower and hold writes; if either fails, nothing has changed: say so and let the follower go on
    (unless an earlier, killed run already flipped: then only finishing the handover is safe)."""
    try:
        wait_for_follower(run)
        return _hold(run, proxy, journal, hold_timeout_s, max_queue)
    except Exception as exc:
        if journal.get("owner") == owner:
            run.write_journal({**journal, "op": None, "step": "not started"})
        raise HandoverAborted(
            f"{run.result.op} of {run.spec.name} did not start: {summary(exc)}; nothing changed",
            hint=getattr(exc, "hint", "") or f"fix the cause, then run the {run.result.op} again",
        ) from exc


def _hold(
    run: HandoverRun, proxy: ProxyControl, journal: dict[str, Any], hold_timeout_s: float, max_queue: int
) -> WriteHold:
    hold: list[WriteHold] = []

    def start() -> str:
        hold.append(proxy.hold_writes(run.routes, max_hold_s=hold_timeout_s, max_queue=max_queue))
        # Recorded at once: if this run is killed, the next one releases these too (to the owner of the moment).
        journal["holds"] = [*run.stale_holds, *hold[0].hold_id.split(",")]
        run.write_journal(journal)
        return f"holding writes to {', '.join(run.routes)} (at most {hold_timeout_s:g}s, {max_queue} requests)"

    run.result.hold_seconds = time.monotonic()
    run.step("hold", start)
    return hold[0]


def release(run: HandoverRun, proxy: ProxyControl, hold: WriteHold, *, to: Owner) -> None:
    def let_go() -> str:
        released = proxy.release_writes(hold, to=to)
        count = released.released
        if run.stale_holds:
            stale = WriteHold(",".join(run.stale_holds), hold.routes, hold.max_hold_s)
            count += proxy.release_writes(stale, to=to).released
        run.result.hold_waits = released.waits
        return f"released {count} held request(s) to the {to}"

    started = run.result.hold_seconds or time.monotonic()
    run.step("release", let_go)
    run.result.hold_seconds = round(time.monotonic() - started, 3)


def release_stale(run: HandoverRun, proxy: ProxyControl, journal: dict[str, Any], *, to: Owner) -> None:
    """Holds left by a run killed after its last step: release them, or their writes wait for the timeout."""
    if run.stale_holds:
        proxy.release_writes(WriteHold(",".join(run.stale_holds), run.routes, 0), to=to)
        run.write_journal({**journal, "holds": []})


def drain_verify_realign_flip(run: HandoverRun, *, to: Owner, journal: dict[str, Any]) -> str:
    """The held part of a handover, on one connection pair (each new one costs tens of ms of held writes).
    Returns when the proof was taken (the verify's start)."""
    opener = run.forward if to == "service" else run.reverse
    verified_at = ""
    with opener(exclusive=True) as ctx:
        run.step("drain", lambda: drain(ctx))
        run.faults.after("drain")

        def verify() -> str:
            nonlocal verified_at
            verified_at = datetime.now(UTC).isoformat()
            return require_clean(ctx)

        run.step("verify", verify)
        run.faults.after("verify")
        run.step("realign", lambda: f"sequences {realign_sequences(ctx)}")
        run.faults.after("realign")
        run.step("flip", lambda: _flip(ctx, run, to=to, journal=journal))
        run.faults.after("flip")
    return verified_at


def reverify(run: HandoverRun, *, forward: bool) -> str:
    """A resumed run after the flip: prove nothing reached the old owner while no hold was up."""
    with run.forward() if forward else run.reverse() as ctx:
        return require_clean(ctx)


def _flip(ctx: RunContext, run: HandoverRun, *, to: Owner, journal: dict[str, Any]) -> str:
    """Stop capturing the old owner's writes and record the new owner (the writes are held meanwhile)."""
    uninstall_capture(ctx.source, ctx.spec.name, [t.source for t in ctx.tables])
    with ctx.target.transaction():
        delete_prefix(ctx.target, ctx.prefix)
    guarded = set_guard(run.monolith_url, run.spec, on=to == "service")
    record_owner(run.monolith_url, run.spec.name, to)  # before the journal: a re-run after a kill records it again
    journal["owner"] = to
    run.write_journal({**journal, "step": "flipped"})
    return f"the {to} owns the data of {run.spec.name}" + (
        " (foreign writes to the monolith logged)" if guarded else ""
    )


def start_capture(run: HandoverRun, *, forward: bool) -> str:
    """Capture on the new owner and the sync's start position, without a copy: both sides were just verified equal
    with writes held."""
    opener = run.forward if forward else run.reverse
    with opener(exclusive=True) as ctx:
        if not all(capture_installed(ctx.source, ctx.spec.name, [t.source for t in ctx.tables]).values()):
            # A fresh start: a position left from this direction's last run would point into a dropped changelog.
            with ctx.target.transaction():
                delete_prefix(ctx.target, ctx.prefix)
        run_backfill(ctx, capture_only=True)
        return f"{ctx.direction} capture installed, sync starts here (no copy: both sides verified equal)"


def set_stage(run: HandoverRun, proxy: ProxyControl, path: str, stage: str, percent: int, why: str) -> str:
    reason = f"{AUTHOR_NOTE} {run.result.op} {run.spec.name}: {why}"
    proxy.set_stage(path, stage, reason=reason, percent=percent, data=run.spec.name)
    return f"{path} -> {stage}" + (f" {percent}%" if stage == "canary" else "")


def undo_flip(run: HandoverRun, proxy: ProxyControl, *, back_to: Owner, journal: dict[str, Any]) -> None:
    """Writes are still held, so both sides are still equal: swap the capture back and republish."""
    new_side = run.reverse if back_to == "monolith" else run.forward
    with new_side(exclusive=True) as ctx:
        uninstall_capture(ctx.source, ctx.spec.name, [t.source for t in ctx.tables])
        with ctx.target.transaction():
            delete_prefix(ctx.target, ctx.prefix)
    start_capture(run, forward=back_to == "monolith")
    set_guard(run.monolith_url, run.spec, on=back_to == "service")
    record_owner(run.monolith_url, run.spec.name, back_to)
    journal["owner"] = back_to
    run.write_journal({**journal, "step": "flip undone"})
    publish_verified(run, proxy, back_to, None)
