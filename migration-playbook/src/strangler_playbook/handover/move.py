"""The one state machine behind `strangler data cutover` (to the service) and `rollback` (to the monolith): move the
system of record with writes held, through one commit point at the proxy.

The invariant: every write the proxy forwards goes to the side the proxy believes owns the data, and that side
captures its changes until the proxy is known to send writes elsewhere. The proxy sends a data route's writes to
the owner it was told, and accepts a new owner only under this run's live hold (`fence`); the engine installs the
new owner's capture before that commit and removes the old owner's only after it. So a hold that ends, however and
whenever (released, its lease lapsed because this process died, its timeout), lets its writes go to a side that
captures them.

Journal steps (`<spec>/handover`, the service database), in order, those in parentheses not written (each journal
write under the hold is a commit the held writes wait for); the kill points of the tests (`Faults`) are `start`,
`hold`, `drain`, `drain:batch` (after a batch the drain applied), `verify`, `realign`, `captured`, `commit`,
`committed`, `routed`, `released`, `uncaptured`:

    start       op recorded, this run's lease claimed (a dead run's waited out), previous stages recorded;
                then, writes still flowing and on connections kept until the release: a full verify ahead of the
                hold (`verify_ahead.py`), capture installed on the new owner (logging, but read by no sync yet),
                and the old owner's sync caught up, so the hold is left with drain + a small verify + the flip
    hold        the routes' writes held at the proxy, a lease this run renews (a dead run's holds released)
    (drained)   the old owner's pending changes applied to the new owner           ┐ skipped when the proxy
    (verified)  both sides equal, writes held: the keys that may differ since the  │ believes the new owner
                verify ahead, row by row (else: abort, nothing changed)            │
    (realigned) the new owner's id sequences past every id either side used       │ already (a dead run
    captured    the new owner's sync starts here (its capture on since `start`)    ┘ passed the commit)
    ─── commit  the proxy accepts the new owner under this run's hold: THE commit point
    committed   the journal's owner is the new owner
    (routed)    each route at its stage for the new owner (live; or the stage before the cutover), then
    released    the held writes go on, to the new owner: one call to the proxy (`POST /holds/finish`), so the
                hold ends with that round trip; the journal records `released` after it (`routed` stays a kill point)
    uncaptured  the old owner's capture and its sync's state removed; the retire guard switched
    done        op cleared (the final journal write)

A re-run reads the journal and asks the proxy which owner it believes (the proxy is the truth about where writes
went). Before the commit it starts again from `hold`: a new drain and verify under a new hold, capture installed
afresh. After it, it finishes: hold, drain the new owner's changes to the old one, verify (differences are
reported and stop it, never undone: the new owner took writes), then route, release, uncapture. A failure before
the commit aborts (exit 7): the new owner's capture removed, the hold released to the old owner, nothing else had
changed. A failure after it stops the run with its own exit code and the journal where it was: running the same
command again finishes it.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from typing import Any, NoReturn

from strangler_playbook.database.connection import Database
from strangler_playbook.database.context import RunContext
from strangler_playbook.errors import (
    ConnectError,
    DifferencesFound,
    EngineError,
    HandoverAborted,
    PlaybookError,
    StateError,
    summary,
)
from strangler_playbook.handover.follow import wait_for_follower
from strangler_playbook.handover.lease import DEFAULT_LEASE_S, RunLease
from strangler_playbook.handover.owner_record import record_owner
from strangler_playbook.handover.proxy_seam import Owner, ProxyControl, RouteInfo, WriteHold
from strangler_playbook.handover.publish import publish_verified
from strangler_playbook.handover.run import HandoverResult, HandoverRun
from strangler_playbook.handover.steps import (
    DEFAULT_HOLD_SETTLE_S,
    DEFAULT_HOLD_TIMEOUT_S,
    DEFAULT_MAX_QUEUE,
    catch_up_before_hold,
    commit,
    drain_and_check,
    drain_verify_realign,
    other,
    prepare_capture,
    release_stale,
    remove_capture,
    require_routes,
    route_and_release,
    route_targets,
    stale_holds,
    start_capture,
    switch_guard,
    sync_from,
    take_hold,
    verify_before_hold,
)
from strangler_playbook.handover.verify_ahead import Baseline


@dataclass(frozen=True)
class Limits:
    """How long and how many writes the proxy may hold, and the lease a run renews (`--hold-timeout`, ...)."""

    hold_timeout_s: float = DEFAULT_HOLD_TIMEOUT_S
    max_queue: int = DEFAULT_MAX_QUEUE
    lease_s: float = DEFAULT_LEASE_S
    settle_s: float = DEFAULT_HOLD_SETTLE_S  # the proxy's look for a moment with no write in flight (`steps.take_hold`)


@dataclass(frozen=True)
class Move:
    op: str  # "cutover" | "rollback"
    to: Owner
    done_step: str  # the journal's step once done
    why: str  # the audit reason of the route changes

    @property
    def old(self) -> Owner:
        return other(self.to)


CUTOVER = Move("cutover", "service", "live", "verified, ownership moved to the service")
ROLLBACK = Move("rollback", "monolith", "rolled back", "rolled back: the monolith owns the data again")


def run_move(run: HandoverRun, proxy: ProxyControl, move: Move, limits: Limits) -> HandoverResult:
    require_routes(run.spec)
    lease = RunLease(run.service_url, run.spec.name, op=move.op, lease_s=limits.lease_s, renew_holds=proxy.renew_writes)
    replaced = lease.claim()
    lease.start()
    mover = _Mover(run, proxy, move, limits, lease)
    try:
        if replaced is not None:
            run.result.found = f"a {replaced.get('op')} (run {replaced.get('run')}) had died"
        with run.session():
            return mover.go()
    finally:
        mover._close_sides()
        lease.end()


class _Mover:
    def __init__(self, run: HandoverRun, proxy: ProxyControl, move: Move, limits: Limits, lease: RunLease) -> None:
        self.run = run
        self.proxy = proxy
        self.move = move
        self.limits = limits
        self.lease = lease
        self.hold: WriteHold | None = None
        self.baseline: Baseline | None = None
        # Before the commit: the old owner's sync (drain, verify, realign) and the new owner's (its capture), both
        # opened before the hold and closed at its release.
        self.sides = ExitStack()
        self.old_sync: RunContext | None = None
        self.new_sync: RunContext | None = None
        self.stale: WriteHold | None = None  # a dead run's holds, found before this run's hold

    def go(self) -> HandoverResult:
        run, move = self.run, self.move
        before = run.journal()
        recorded: Owner = "service" if before.get("owner") == "service" else "monolith"
        believed = self.proxy.data_owner(run.spec.name) or recorded
        routes = {path: self.proxy.route(path) for path in run.routes}
        journal: dict[str, Any] = {k: v for k, v in before.items() if k != "holds"}  # holds: an older journal's
        journal["owner"] = believed
        if believed != recorded:
            found = f"the proxy says the {believed} owns the data; the journal said the {recorded}"
            run.result.found = "; ".join(filter(None, [run.result.found, found]))
        if before.get("op"):
            stopped = f"a {before['op']} stopped after step {before.get('step')}"
            run.result.found = "; ".join(filter(None, [run.result.found, stopped]))
        previous = self._previous(routes, dict(journal.get("previous") or {}))
        targets = route_targets(previous, routes, to=move.to)
        if believed == move.to and not before.get("op") and all(_at(routes[p], t) for p, t in targets.items()):
            return self._already(journal, routes)
        journal.update(op=move.op, run=self.lease.run_id, step="start", previous=previous, drift=None)
        run.write_journal(journal)
        run.faults.after("start")
        committed_now = believed == move.old
        try:
            wait_for_follower(run)
            if committed_now:
                self._ahead_of_hold()
                self.stale = stale_holds(run, self.proxy)
            limits = self.limits
            self.hold = take_hold(run, self.proxy, self.lease, limits.hold_timeout_s, limits.max_queue, limits.settle_s)
        except Exception as exc:
            installed = self.new_sync is not None  # `_ahead_of_hold` may have installed the new owner's capture
            self._close_sides()
            if installed:
                try:
                    remove_capture(run, on=move.to)
                except Exception as cleanup:  # it only logs, nothing reads it: the cause matters
                    run.on_step("capture", f"could not remove the new owner's capture: {summary(cleanup)}")
            self._restore(before, journal)
            raise HandoverAborted(
                f"{move.op} of {run.spec.name} did not start: {summary(exc)}; nothing changed",
                hint=getattr(exc, "hint", "") or f"fix the cause, then run the {move.op} again",
            ) from exc
        if committed_now:
            self._before_commit(journal, before)
        self._after_commit(journal, targets, committed_now=committed_now)
        return run.result

    def _ahead_of_hold(self) -> None:
        """Writes still flowing: everything of the flip that need not wait for the hold (`start` above)."""
        run, move = self.run, self.move
        self.old_sync = self.sides.enter_context(sync_from(run, move.old, exclusive=True))
        self.baseline = verify_before_hold(run, self.old_sync)
        self.new_sync = self.sides.enter_context(sync_from(run, move.to, exclusive=True))
        run.step("capture ahead", partial(prepare_capture, run, self.new_sync))
        self.baseline = catch_up_before_hold(run, self.old_sync, self.baseline)

    def _close_sides(self) -> None:
        self.sides.close()
        self.old_sync = self.new_sync = None

    def _monolith(self) -> Database | None:
        """The monolith's connection of the pair kept open across the hold, if it is still open."""
        if self.new_sync is None:
            return None
        return next(db for db in (self.new_sync.source, self.new_sync.target) if db.url == self.run.monolith_url)

    def _record_owner(self, owner: Owner) -> None:
        with self.run.timed("record owner"):
            record_owner(self.run.monolith_url, self.run.spec.name, owner, db=self._monolith())

    def _previous(self, routes: dict[str, RouteInfo], previous: dict[str, Any]) -> dict[str, Any]:
        """A cutover records each route's stage before it (rollback returns there); a live route keeps the record
        an earlier cutover made."""
        if self.move.to != "service":
            return previous
        for path, route in routes.items():
            if route.stage != "live":
                previous[path] = {"stage": route.stage, "percent": route.percent}
        return previous

    def _already(self, journal: dict[str, Any], routes: dict[str, RouteInfo]) -> HandoverResult:
        run = self.run
        release_stale(run, self.proxy, None, to=self.move.to)
        before = run.journal()
        if "holds" in before or before.get("owner") != journal["owner"]:
            run.write_journal(journal)
        run.result.outcome, run.result.owner = "already", self.move.to
        run.result.stages = {p: r.stage for p, r in routes.items()}
        return run.result

    def _step(self, journal: dict[str, Any], step: str) -> None:
        journal["step"] = step
        self.run.write_journal(journal)
        self.run.faults.after(step)

    def _before_commit(self, journal: dict[str, Any], before: dict[str, Any]) -> None:
        run, move, hold = self.run, self.move, self.hold
        assert hold is not None
        try:
            self._step(journal, "hold")
            release_stale(run, self.proxy, hold, to=move.old, stale=self.stale)
            assert self.old_sync is not None and self.new_sync is not None
            # Not journaled until `captured`: a run that stops anywhere before the commit starts over all the same,
            # and each journal write under the hold is one more commit the held writes wait for.
            verified_at = drain_verify_realign(run, self.old_sync, baseline=self.baseline)
            new_sync = self.new_sync
            run.step("capture", lambda: start_capture(run, new_sync, verified_at=verified_at))
            if move.to == "monolith":
                # The monolith's catalog services refuse writes while the record says the service owns the data:
                # from the commit on the proxy sends it writes, so it must accept them before then.
                self._record_owner(move.to)
            self._step(journal, "captured")
            if self.lease.lost:
                raise StateError(
                    f"the proxy ended this run's hold before the commit (no renewal within {self.lease.lease_s:g}s: "
                    f"this process stalled); the {move.old} took the writes meanwhile",
                    hint=f"run the {move.op} again",
                )
        except Exception as exc:
            self._abort(before, journal, exc)
        try:
            run.step("commit", lambda: commit(run, self.proxy, hold, to=move.to, verified_at=verified_at))
        except PlaybookError as exc:
            if getattr(exc, "code", None) == "holds_not_in_place":
                self._abort(before, journal, exc)
            owner = self._owner_after_failed_commit(exc)
            if owner != move.to:
                self._abort(before, journal, exc)

    def _owner_after_failed_commit(self, exc: PlaybookError) -> Owner | None:
        """The commit's answer was lost: ask the proxy what it believes now. Unreachable: stop with the journal as
        it is (before the commit as far as anyone knows); the hold runs out, its writes go to whichever side the
        proxy believes, and both sides capture."""
        try:
            return self.proxy.data_owner(self.run.spec.name)
        except ConnectError as lost:
            lost.message = (
                f"{self.move.op} of {self.run.spec.name} cannot tell whether the proxy took its commit "
                f"({summary(exc)}); {lost.message}"
            )
            lost.hint = f"run the {self.move.op} again once the proxy answers: it asks the proxy and goes on"
            raise lost from exc

    def _finishing(self, journal: dict[str, Any]) -> None:
        """A dead run passed the commit: prove where the data stands, then go on after the commit."""
        run, move = self.run, self.move
        report = drain_and_check(run, new=move.to)
        if not report.clean:
            drift = {
                t["table"]: {k: t[f"{k}_count"] for k in ("missing", "extra", "different")}
                for t in report.as_dict()["tables"]
                if not t["clean"]
            }
            journal["drift"] = drift
            run.write_journal(journal)
            publish_verified(run, self.proxy, move.to, None, clean=False)
            self._let_go()
            raise DifferencesFound(
                f"the {move.to} owns the data of {run.spec.name} (the proxy sends it every write), but with writes "
                f"held the {move.old} differs from it: {drift}; the {move.op} is not finished",
                hint=f"repair the differing rows (`strangler data repair SPEC`), then run the {move.op} again",
            )
        publish_verified(run, self.proxy, move.to, None)

    def _after_commit(
        self, journal: dict[str, Any], targets: dict[str, tuple[str, int]], *, committed_now: bool
    ) -> None:
        run, move = self.run, self.move
        assert self.hold is not None
        try:
            if committed_now:
                run.faults.after("commit")
                # Only now may the monolith's record say the service: its seam reads there, and its catalog
                # services refuse writes, which the proxy no longer sends it (docs/seam.md).
                self._record_owner(move.to)
                journal["owner"] = move.to
                self._step(journal, "committed")
            else:
                self._step(journal, "hold")
                release_stale(run, self.proxy, self.hold, to=move.to)
                record_owner(run.monolith_url, run.spec.name, move.to)
                self._finishing(journal)
            # One call: the routes at their stages (writes still held), then the release.
            route_and_release(run, self.proxy, self.hold, self.lease, targets, to=move.to, why=move.why)
            run.result.stages.update({path: stage for path, (stage, _) in targets.items()})
            self.hold = None
            self._close_sides()
            run.faults.after("routed")  # the routes changed (with the release, in the same call)
            self._step(journal, "released")
            # After the release: the proxy sends the old owner no write since the commit, so its capture may go
            # once the held writes are on their way (the follower stays paused until the journal's op is cleared).
            run.step("uncapture", lambda: remove_capture(run, on=move.old) + switch_guard(run, to=move.to))
            self._step(journal, "uncaptured")
        except DifferencesFound:
            raise  # found by `_finishing`, which recorded it and let go: repair comes first
        except Exception as exc:
            self._let_go()
            if isinstance(exc, PlaybookError):
                error: PlaybookError = exc
            else:
                error = EngineError(summary(exc))
            error.message = (
                f"{move.op} of {run.spec.name} passed its commit point (the {move.to} owns the data; the proxy sends "
                f"it every write) but stopped after step {journal['step']}: {error.message}"
            )
            error.hint = f"{error.hint + '; then ' if error.hint else ''}run the {move.op} again: it finishes"
            raise error from exc
        run.write_journal({**journal, "op": None, "run": None, "step": move.done_step})
        run.result.owner = move.to

    def _let_go(self) -> None:
        """Release this run's hold, if it can: its writes go to the owner the proxy believes, which captures them
        (if the proxy cannot be reached, the hold runs out by itself to the same effect)."""
        if self.hold is None:
            return
        self.lease.untrack(self.hold)
        try:
            self.proxy.release_writes(self.hold, to=self.move.to)
        except PlaybookError as exc:
            self.run.on_step("release", f"could not release (it runs out by itself): {summary(exc)}")
        self.hold = None
        self.run.hold_ended()

    def _restore(self, before: dict[str, Any], journal: dict[str, Any]) -> None:
        """Put the journal back as this run found it (the owner as the proxy says)."""
        self.run.write_journal({**{k: v for k, v in before.items() if k != "holds"}, "owner": journal["owner"]})

    def _abort(self, before: dict[str, Any], journal: dict[str, Any], cause: Exception) -> NoReturn:
        """Before the commit: the new owner never took a write, so its capture goes; the old owner kept its own."""
        run, move = self.run, self.move
        undone = []
        try:
            self._close_sides()
            remove_capture(run, on=move.to)
            undone.append(f"{move.to}'s capture removed")
            record_owner(run.monolith_url, run.spec.name, move.old)  # a rollback may have recorded the monolith
            # A half-done handover of the other direction (past its own commit) is still half done; this one is not.
            op = before.get("op") if before.get("op") != move.op else None
            run.write_journal({**journal, "op": op, "run": None, "step": "aborted", "owner": move.old})
        finally:
            self._let_go()
        raise HandoverAborted(
            f"{move.op} of {run.spec.name} aborted before its commit point: {summary(cause)}; the {move.old} owns "
            f"the data and captures its writes as before ({', '.join(undone) or 'nothing else had changed'}); held "
            f"writes released to the {move.old}",
            hint=getattr(cause, "hint", "") or f"fix the cause, then run the {move.op} again",
        ) from cause


def _at(route: RouteInfo, target: tuple[str, int]) -> bool:
    stage, percent = target
    return route.stage == stage and (stage != "canary" or route.percent == percent)
