"""The steps a cutover and a rollback are made of, each safe to do again: hold, drain, verify, realign, install
capture on the new owner, commit the owner at the proxy, remove the old owner's capture, set the routes' stages and
release (one call).

`move.py` puts them in order (one state machine for both directions); the run's journal (`run.py`) records how far
they got so a re-run converges.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from strangler_playbook.backfill.backfill import CAPTURE_ONLY, checkpoint_name
from strangler_playbook.capture.feed import ChangeFeed
from strangler_playbook.capture.triggers import capture_installed, uninstall_capture
from strangler_playbook.capture.triggers import install_capture as install_capture_triggers
from strangler_playbook.database.context import RunContext
from strangler_playbook.database.state import delete_prefix, ensure_state_table, write_state
from strangler_playbook.errors import StateError
from strangler_playbook.handover.guard import set_guard
from strangler_playbook.handover.lease import RunLease
from strangler_playbook.handover.proxy_seam import Owner, ProxyControl, RouteInfo, WriteHold
from strangler_playbook.handover.publish import publish_verified
from strangler_playbook.handover.run import HandoverRun
from strangler_playbook.handover.sequences import prepare_realign, realign_sequences
from strangler_playbook.handover.verify_ahead import Baseline, catch_up, keys_to_compare, verify_ahead
from strangler_playbook.spec.spec import Spec
from strangler_playbook.sync.sync import drain, run_sync
from strangler_playbook.verify.verify import VerifyReport, require_clean, run_verify

DEFAULT_HOLD_TIMEOUT_S = 10.0
# How long the proxy may look for a moment with no write in flight before it holds (writes flow meanwhile): held
# writes then wait for the handover's own steps only, not also for the writes forwarded before the hold.
DEFAULT_HOLD_SETTLE_S = 0.5
DEFAULT_MAX_QUEUE = 1000
AUTHOR_NOTE = "strangler data"


def require_routes(spec: Spec) -> None:
    if not spec.routes:
        raise StateError(
            f"spec {spec.name} names no routes: there is nothing for the proxy to hold or move",
            hint='add routes = ["/api/..."] to the spec',
        )


def other(owner: Owner) -> Owner:
    return "monolith" if owner == "service" else "service"


def sync_from(run: HandoverRun, owner: Owner, *, exclusive: bool = False) -> AbstractContextManager[RunContext]:
    """The sync whose source is `owner`: forward from the monolith, reverse from the service."""
    return run.forward(exclusive=exclusive) if owner == "monolith" else run.reverse(exclusive=exclusive)


def take_hold(
    run: HandoverRun,
    proxy: ProxyControl,
    lease: RunLease,
    hold_timeout_s: float,
    max_queue: int,
    settle_s: float = DEFAULT_HOLD_SETTLE_S,
) -> WriteHold:
    """Hold the writes of the spec's routes and its `hold_routes` as this run's lease (renewed by its keeper from now
    on). The proxy holds from the first moment within `settle_s` with no write in flight (writes flow until then),
    else at `settle_s`, and answers once no write forwarded before the hold is still in flight: the hold, and its
    "hold" part, run from when the proxy began holding (it says how long ago). The commit's fence is all of them:
    the owner changes while no write can reach either side's tables."""
    taken: list[WriteHold] = []

    def start() -> str:
        hold = proxy.hold_writes(
            run.held_routes,
            max_hold_s=hold_timeout_s,
            max_queue=max_queue,
            holder=lease.holder,
            lease_s=lease.lease_s,
            settle_s=settle_s,
        )
        lease.track(hold)
        taken.append(hold)
        return (
            f"holding writes to {', '.join(run.held_routes)} (lease {lease.lease_s:g}s, at most {hold_timeout_s:g}s, "
            f"{max_queue} requests, settle {settle_s:g}s; held {hold.held_for_s * 1000:.0f} ms when the proxy answered)"
        )

    asked = time.monotonic()
    run.step("hold", start)  # not under the hold yet (`hold_started` is None): not in the breakdown
    answered = time.monotonic()
    run.hold_started = max(asked, answered - taken[0].held_for_s)
    run.result.hold_breakdown["hold"] = round((answered - run.hold_started) * 1000, 1)
    return taken[0]


def stale_holds(run: HandoverRun, proxy: ProxyControl) -> WriteHold:
    """The holds a dead run of this spec left at the proxy (found by holder, journaled or not): asked before this
    run's hold, so that its hold does not wait on the question. This run's lease is claimed: no live run adds one."""
    return proxy.holds_of(f"{run.spec.name}/")


def release_stale(
    run: HandoverRun, proxy: ProxyControl, own: WriteHold | None, *, to: Owner, stale: WriteHold | None = None
) -> int:
    """Release the holds a dead run of this spec left at the proxy (`stale`, or asked now). With this run's own
    hold in place their writes wait on for it; without, they go on to the owner the proxy holds."""
    stale = stale if stale is not None else proxy.holds_of(f"{run.spec.name}/")
    mine = set(own.ids) if own is not None else set()
    left = [i for i in stale.ids if i not in mine]
    if not left:
        return 0
    released: list[int] = []

    def let_go() -> str:
        released.append(proxy.release_writes(WriteHold(",".join(left), stale.routes, 0.0), to=to).released)
        waiting = "now wait for this run's hold" if own is not None else f"go on to the {to}"
        return f"released {len(left)} hold(s) of a dead run: its {released[0]} held request(s) {waiting}"

    run.step("stale", let_go)
    return released[0]


def route_and_release(
    run: HandoverRun,
    proxy: ProxyControl,
    hold: WriteHold,
    lease: RunLease,
    targets: dict[str, tuple[str, int]],
    *,
    to: Owner,
    why: str,
) -> None:
    """The hold's last step, one call to the proxy: each route at its stage for the new owner (those there already
    unchanged), writes still held, then the held requests released to it."""

    def finish() -> str:
        reason = f"{AUTHOR_NOTE} {run.result.op} {run.spec.name}: {why}"
        released = proxy.finish(hold, stages=targets, data=run.spec.name, reason=reason)
        lease.untrack(hold)
        run.result.hold_waits = released.waits
        stages = ", ".join(f"{p} {s}" + (f" {n}%" if s == "canary" else "") for p, (s, n) in targets.items())
        return f"{stages}; released {released.released} held request(s) to the {to}"

    run.step("routes + release", finish)
    run.hold_ended()


def verify_before_hold(run: HandoverRun, ctx: RunContext) -> Baseline | None:
    """Writes still flowing: the full verify whose result the hold's short one completes (`verify_ahead.py`), on
    the old owner's sync (`ctx`)."""
    baseline: list[Baseline | None] = []

    def verify() -> str:
        baseline.append(verify_ahead(ctx))
        if baseline[0] is None:
            return "not usable (the verify under the hold is a full one)"
        suspects = sum(len(k) for k in baseline[0].suspects.values())
        return f"{baseline[0].rows} rows, {suspects} key(s) to compare again under the hold"

    run.step("verify ahead", verify)
    return baseline[0]


def catch_up_before_hold(run: HandoverRun, ctx: RunContext, baseline: Baseline | None) -> Baseline | None:
    """Writes still flowing, the instant before the hold: the old owner's sync applies what came since the verify
    ahead (and the capture install), so the drain under the hold is left with the last few changes only."""
    caught: list[Baseline | None] = [baseline]

    def sync() -> str:
        prepare_realign(ctx)
        if baseline is None:
            return f"{ctx.direction} sync: {run_sync(ctx).applied} change(s) applied"
        caught[0] = catch_up(ctx, baseline)
        return f"{ctx.direction} sync caught up (the changelog kept for the verify under the hold)"

    run.step("catch up", sync)
    return caught[0]


def drain_verify_realign(run: HandoverRun, ctx: RunContext, *, baseline: Baseline | None = None) -> str:
    """Before the commit, writes held, on the old owner's sync (`ctx`, opened before the hold: each new connection
    costs held writes tens of ms): the old owner's changes all applied, both sides proven equal (with a `baseline`,
    only the keys that may differ since it), the new owner's sequences past every used id. Returns when the proof
    was taken (the verify's start)."""
    verified_at = ""
    with run.timed("drain"):
        keys = keys_to_compare(ctx, baseline)
    run.step("drain", lambda: drain(ctx, on_batch=lambda _result: run.faults.after("drain:batch"), prune=False))
    run.faults.after("drain:batch")  # nothing was pending: the kill meant for mid-drain happens here
    run.faults.after("drain")

    def verify() -> str:
        nonlocal verified_at
        verified_at = datetime.now(UTC).isoformat()
        return require_clean(ctx, keys)

    run.step("verify", verify)
    run.faults.after("verify")
    run.step("realign", lambda: f"sequences {realign_sequences(ctx)}")
    run.faults.after("realign")
    return verified_at


def drain_and_check(run: HandoverRun, *, new: Owner) -> VerifyReport:
    """After the commit (a re-run finishing it), writes held: the new owner's changes all applied to the old owner,
    then a verify whose differences are reported, not undone (the new owner took writes since the commit)."""
    with sync_from(run, new, exclusive=True) as ctx:
        run.step("drain", lambda: drain(ctx))
        report: list[VerifyReport] = []

        def verify() -> str:
            report.append(run_verify(ctx))
            rows = sum(t.source_rows for t in report[0].tables)
            return f"{ctx.direction} verify {'clean' if report[0].clean else 'found DIFFERENCES'}: {rows} rows"

        run.step("verify", verify)
    return report[0]


def prepare_capture(run: HandoverRun, ctx: RunContext) -> str:
    """Before the hold, on the new owner's sync (`ctx`: its source is the new owner): capture installed afresh on
    the new owner (whatever a dead run left of it dropped first), the old owner's state table made. It logs nothing
    anyone reads yet: the sync starts under the hold (`start_capture`), after every entry logged until then (what the
    forward sync writes into the new owner, on SQLite). A run that stops before its commit removes it again."""
    names = [t.source for t in ctx.tables]
    uninstall_capture(ctx.source, ctx.spec.name, names)
    install_capture_triggers(ctx.source, ctx.spec.name, ctx.tables)
    ensure_state_table(ctx.target)
    return f"{ctx.direction} capture installed on the new owner; its sync starts under the hold"


def start_capture(run: HandoverRun, ctx: RunContext, *, verified_at: str) -> str:
    """Under the hold, both sides just verified equal: the new owner's sync starts here, without a copy, recorded
    with that verify as its last (`status`, `publish`), in one transaction of the old owner's database. Capture is
    installed first if `prepare_capture`'s is gone."""
    names = [t.source for t in ctx.tables]
    if not all(capture_installed(ctx.source, ctx.spec.name, names).values()):
        install_capture_triggers(ctx.source, ctx.spec.name, ctx.tables)
    position = ChangeFeed(ctx.source, ctx.spec.name).start_position()
    clean = {t.target: {"missing": 0, "extra": 0, "different": 0} for t in ctx.tables}
    last = {"at": verified_at, "clean": True, "tables": clean, "by": f"the {run.result.op}, with writes held"}
    with ctx.target.transaction():
        delete_prefix(ctx.target, ctx.prefix)
        write_state(ctx.target, ctx.prefix + "sync/position", position)
        write_state(ctx.target, ctx.prefix + "phase", "backfilled")
        for table in ctx.tables:
            write_state(ctx.target, checkpoint_name(ctx, table), CAPTURE_ONLY)
        write_state(ctx.target, ctx.prefix + "verify/last", last)
    return f"{ctx.direction} sync starts here (no copy: both sides verified equal)"


def remove_capture(run: HandoverRun, *, on: Owner) -> str:
    """Stop capturing `on`'s writes and forget its sync: only once the proxy is known to send writes elsewhere
    (after the commit), or when `on` never took a write (an abort before the commit)."""
    with sync_from(run, on) as ctx:
        uninstall_capture(ctx.source, ctx.spec.name, [t.source for t in ctx.tables])
        with ctx.target.transaction():
            delete_prefix(ctx.target, ctx.prefix)
        return f"{ctx.direction} capture removed"


def commit(run: HandoverRun, proxy: ProxyControl, hold: WriteHold, *, to: Owner, verified_at: str) -> str:
    """The commit point: the proxy accepts `to` as the owner only while this run's hold covers every route."""
    publish_verified(run, proxy, to, verified_at, fence=hold)
    return f"the proxy sends writes to the {to} now: it owns the data of {run.spec.name}"


def switch_guard(run: HandoverRun, *, to: Owner) -> str:
    guarded = set_guard(run.monolith_url, run.spec, on=to == "service")
    return " (foreign writes to the monolith logged)" if guarded else ""


def route_targets(previous: dict[str, Any], routes: dict[str, RouteInfo], *, to: Owner) -> dict[str, tuple[str, int]]:
    """Each route's stage once `to` owns the data: live for the service; for the monolith, the stage it had before
    the cutover (never live: shadow when it was; a route no cutover recorded keeps a stage other than live)."""
    if to == "service":
        return dict.fromkeys(routes, ("live", 0))
    targets = {}
    for path, route in routes.items():
        now: dict[str, Any] = {"stage": route.stage, "percent": route.percent}
        before: dict[str, Any] = previous.get(path) or (now if route.stage != "live" else {"stage": "shadow"})
        stage = str(before["stage"]) if before["stage"] != "live" else "shadow"
        targets[path] = (stage, int(before.get("percent", 0)) if stage == "canary" else 0)
    return targets
