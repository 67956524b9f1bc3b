"""Cutover and rollback: hand the system of record over between the monolith and the service, writes held.

Cutover (monolith → service), each step idempotent:

    hold      the proxy holds the spec's routes' unsafe requests (bounded: `hold_timeout`, `max_queue`)
    drain     the forward sync applies every pending change
    verify    must be clean, else abort
    realign   the service's id sequences past every id either side used
    flip      forward capture removed from the monolith; the journal says the service owns the data
    reverse   capture on the service and the reverse sync's start position (`backfill --reverse --capture-only`)
    publish   the proxy learns the service owns verified data (its gate allows `live`)
    live      each route `live` (declaring `data = <spec>`), audited as "strangler data"
    release   the held requests go on, to the service

Rollback (from live) is the mirror image: hold, drain the reverse sync, verify it, realign the monolith's
sequences, flip back (reverse capture removed, forward capture re-installed from the verified state), publish,
each route back to the stage it had before the cutover (default `shadow`), release.

Retire, after cutover, is `retire.py`.

Any failure aborts back to where the run started: a flip already made is undone (the writes are still held, so
both sides are equal), routes get their previous stage, the hold is released, and `HandoverAborted` says why.

The journal (`<spec>/handover` in the service database's `_strangler_state`) records who owns the data, the
step reached and each route's stage before the cutover, so a run killed at any point is finished by running the
same command again: steps already done are done again harmlessly, and a flip already made is not made twice.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, NoReturn

from strangler_playbook.backfill import run_backfill
from strangler_playbook.capture import capture_installed, uninstall_capture
from strangler_playbook.cutover import DataState, Owner, WriteHold
from strangler_playbook.database import Database, connect
from strangler_playbook.errors import HandoverAborted, PlaybookError, StateError
from strangler_playbook.guard import install_guard, uninstall_guard
from strangler_playbook.proxy_control import ProxyAdminControl
from strangler_playbook.run_context import RunContext, open_context
from strangler_playbook.sequences import realign_sequences
from strangler_playbook.spec import Spec
from strangler_playbook.state import delete_prefix, ensure_state_table, read_state, write_state
from strangler_playbook.status import read_status
from strangler_playbook.sync import run_sync
from strangler_playbook.verify import run_verify

DEFAULT_HOLD_TIMEOUT_S = 10.0
DEFAULT_MAX_QUEUE = 1000
DRAIN_ROUNDS = 20
LOCK_WAIT_S = 10.0
FOLLOWER_STALE_S = 5.0  # a follower heartbeat older than this is a follower that is gone
AUTHOR_NOTE = "strangler data"


@dataclass
class HandoverResult:
    op: str
    spec: str
    outcome: str = "done"  # done | already | aborted
    owner: str = "monolith"
    steps: list[dict[str, Any]] = field(default_factory=list)
    stages: dict[str, str] = field(default_factory=dict)  # route → stage at the end
    archived: dict[str, str] = field(default_factory=dict)  # retire: monolith table → its archive name
    hold_waits: dict[str, Any] = field(default_factory=dict)
    hold_seconds: float | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Run:
    spec: Spec
    monolith_url: str
    service_url: str
    proxy: ProxyAdminControl
    result: HandoverResult
    on_step: Callable[[str, str], None]
    fail_after: str | None = None  # tests: abort after this step
    kill_after: str | None = None  # tests: SIGKILL this process after this step (the re-run must converge)
    stale_holds: list[str] = field(default_factory=list)  # holds of a killed run, released with ours

    @contextmanager
    def forward(self, *, exclusive: bool = False) -> Iterator[RunContext]:
        with open_context(
            self.spec, self.monolith_url, self.service_url, exclusive=exclusive, lock_wait_s=LOCK_WAIT_S
        ) as ctx:
            yield ctx

    @contextmanager
    def reverse(self, *, exclusive: bool = False) -> Iterator[RunContext]:
        with open_context(
            self.spec, self.service_url, self.monolith_url, reverse=True, exclusive=exclusive, lock_wait_s=LOCK_WAIT_S
        ) as ctx:
            yield ctx

    def step(self, name: str, action: Callable[[], str]) -> None:
        started = time.monotonic()
        detail = action()
        seconds = round(time.monotonic() - started, 3)
        self.result.steps.append({"step": name, "seconds": seconds, "detail": detail})
        self.on_step(name, f"{detail} ({seconds:.3f}s)")

    # journal (in the service database, which both directions can reach)
    @contextmanager
    def service_db(self) -> Iterator[Database]:
        """The service database alone (the journal's home): no table resolution, so it works after retire too."""
        db = connect(self.service_url, role="target", for_writes=True)
        try:
            yield db
        finally:
            db.close()

    def journal(self) -> dict[str, Any]:
        with self.service_db() as db:
            value = read_state(db, self.journal_name)
        return dict(value) if isinstance(value, dict) else {"owner": "monolith", "previous": {}}

    def write_journal(self, journal: dict[str, Any]) -> None:
        with self.service_db() as db:
            ensure_state_table(db)
            with db.transaction():
                write_state(db, self.journal_name, {**journal, "at": datetime.now(UTC).isoformat()})

    @property
    def journal_name(self) -> str:
        return f"{self.spec.name}/handover"

    @property
    def routes(self) -> tuple[str, ...]:
        """The spec's routes as the route table writes them (no trailing slash)."""
        return tuple(r.rstrip("/") or "/" for r in self.spec.routes)


def run_cutover(
    spec: Spec,
    monolith_url: str,
    service_url: str,
    proxy: ProxyAdminControl,
    *,
    hold_timeout_s: float = DEFAULT_HOLD_TIMEOUT_S,
    max_queue: int = DEFAULT_MAX_QUEUE,
    on_step: Callable[[str, str], None] = lambda step, detail: None,
    fail_after: str | None = None,
    kill_after: str | None = None,
) -> HandoverResult:
    """Move the system of record to the service and the spec's routes to `live`. `fail_after` / `kill_after`
    (tests) abort or SIGKILL the run after the named step, to prove the abort and the re-run."""
    run = _Run(spec, monolith_url, service_url, proxy, HandoverResult("cutover", spec.name), on_step)
    run.fail_after, run.kill_after = fail_after, kill_after
    _require_routes(spec)
    journal = run.journal()
    run.stale_holds = list(journal.get("holds") or [])
    routes = {path: proxy.route(path) for path in run.routes}
    if journal.get("owner") == "service" and all(r.stage == "live" for r in routes.values()):
        _release_stale(run, journal, to="service")
        run.result.outcome, run.result.owner = "already", "service"
        run.result.stages = {p: r.stage for p, r in routes.items()}
        return run.result
    resuming = journal.get("op") == "cutover"
    previous = (journal.get("previous") or {}) if resuming else {}
    for path, route in routes.items():
        if journal.get("owner") != "service" and route.stage == "live":
            raise StateError(
                f"{path} is live while the monolith owns the data of {spec.name}: writes would split",
                hint=f"strangler routes set {path} --stage shadow --reason ...; then run the cutover",
            )
        previous.setdefault(path, {"stage": route.stage, "percent": route.percent})
    journal = {**journal, "op": "cutover", "step": "hold", "previous": previous}
    run.write_journal(journal)
    hold = _start_holding(run, journal, hold_timeout_s, max_queue, owner="monolith")
    flipped = journal.get("owner") == "service"
    verified_at: str | None = None
    try:
        if not flipped:
            verified_at = _drain_verify_realign_flip(run, to="service", journal=journal)
        else:
            run.step("verify", lambda: _reverify(run, forward=True))
        run.step("reverse", lambda: _start_capture(run, forward=False))
        _maybe_fail(run, "reverse")
        run.step("publish", lambda: _publish(run, "service", verified_at))
        for path in run.routes:
            run.step("live", partial(_set_stage, run, path, "live", 0, "verified, ownership flipped to the service"))
        _maybe_fail(run, "live")
    except Exception as exc:
        _abort_cutover(run, hold, journal.get("owner") == "service", journal, exc)
    _release(run, hold, to="service")
    run.write_journal({**journal, "owner": "service", "op": None, "step": "live", "holds": []})
    run.result.owner = "service"
    run.result.stages = dict.fromkeys(run.routes, "live")
    return run.result


def run_rollback(
    spec: Spec,
    monolith_url: str,
    service_url: str,
    proxy: ProxyAdminControl,
    *,
    hold_timeout_s: float = DEFAULT_HOLD_TIMEOUT_S,
    max_queue: int = DEFAULT_MAX_QUEUE,
    on_step: Callable[[str, str], None] = lambda step, detail: None,
    fail_after: str | None = None,
    kill_after: str | None = None,
) -> HandoverResult:
    """Move the system of record back to the monolith and each route to its stage before the cutover."""
    run = _Run(spec, monolith_url, service_url, proxy, HandoverResult("rollback", spec.name), on_step)
    run.fail_after, run.kill_after = fail_after, kill_after
    _require_routes(spec)
    journal = run.journal()
    run.stale_holds = list(journal.get("holds") or [])
    previous: dict[str, Any] = journal.get("previous") or {}
    if journal.get("owner") != "service" and journal.get("op") != "rollback":
        routes = {path: proxy.route(path) for path in run.routes}
        if any(r.stage == "live" for r in routes.values()):
            raise StateError(
                f"the monolith owns the data of {spec.name}, yet a route is live",
                hint="set the route's stage with `strangler routes set PATH --stage shadow` instead",
            )
        _release_stale(run, journal, to="monolith")
        run.result.outcome = "already"
        run.result.stages = {p: r.stage for p, r in routes.items()}
        return run.result
    journal = {**journal, "op": "rollback", "step": "hold"}
    run.write_journal(journal)
    hold = _start_holding(run, journal, hold_timeout_s, max_queue, owner="service")
    flipped = journal.get("owner") == "monolith"
    verified_at: str | None = None
    try:
        if not flipped:
            verified_at = _drain_verify_realign_flip(run, to="monolith", journal=journal)
        else:
            run.step("verify", lambda: _reverify(run, forward=False))
        run.step("forward", lambda: _start_capture(run, forward=True))
        run.step("publish", lambda: _publish(run, "monolith", verified_at))
        for path in run.routes:
            before = previous.get(path) or {"stage": "shadow", "percent": 0}
            stage = before["stage"] if before["stage"] != "live" else "shadow"
            why = "rolled back: the monolith owns the data again"
            run.step("stage", partial(_set_stage, run, path, stage, int(before.get("percent", 0)), why))
            run.result.stages[path] = stage
        _maybe_fail(run, "stage")
    except Exception as exc:
        _abort_rollback(run, hold, journal.get("owner") == "monolith", journal, exc)
    _release(run, hold, to="monolith")
    run.write_journal({**journal, "owner": "monolith", "op": None, "step": "rolled back", "holds": []})
    run.result.owner = "monolith"
    return run.result


def publish_state(spec: Spec, monolith_url: str, service_url: str, proxy: ProxyAdminControl) -> dict[str, Any]:
    """Report the data state of the direction now running (forward before cutover, reverse after) to the proxy."""
    run = _Run(spec, monolith_url, service_url, proxy, HandoverResult("publish", spec.name), lambda s, d: None)
    owner: Owner = "service" if run.journal().get("owner") == "service" else "monolith"
    opener = run.reverse if owner == "service" else run.forward
    with opener() as ctx:
        status = read_status(ctx)
    last = status.get("last_verify") or {}
    state = DataState(
        spec=spec.name,
        phase=str(status["phase"]),
        lag_s=status["sync"]["lag_s"],
        last_verify_clean=last.get("clean"),
        verified_at=last.get("at"),
    )
    proxy.publish_data_state(run.routes, state, owner=owner)
    return {
        "spec": spec.name,
        "owner": owner,
        "phase": state.phase,
        "lag_s": state.lag_s,
        "verify_clean": state.last_verify_clean,
        "verified_at": state.verified_at,
        "routes": list(run.routes),
    }


def _require_routes(spec: Spec) -> None:
    if not spec.routes:
        raise StateError(
            f"spec {spec.name} names no routes: there is nothing for the proxy to hold or move",
            hint='add routes = ["/api/..."] to the spec',
        )


def _start_holding(
    run: _Run, journal: dict[str, Any], hold_timeout_s: float, max_queue: int, *, owner: Owner
) -> WriteHold:
    """Pause the follower and hold writes; if either fails, nothing has changed: say so and let the follower go on
    (unless an earlier, killed run already flipped: then only finishing the handover is safe)."""
    try:
        _wait_for_follower(run)
        return _hold(run, journal, hold_timeout_s, max_queue)
    except Exception as exc:
        if journal.get("owner") == owner:
            run.write_journal({**journal, "op": None, "step": "not started"})
        raise HandoverAborted(
            f"{run.result.op} of {run.spec.name} did not start: {_short(exc)}; nothing changed",
            hint=getattr(exc, "hint", "") or f"fix the cause, then run the {run.result.op} again",
        ) from exc


def _wait_for_follower(run: _Run) -> None:
    """A `strangler data follow` process pauses when it sees the journal's op; wait (bounded) until it says so, so
    that it neither applies nor records a position while this run drains and flips."""
    with run.service_db() as db:
        beat = read_state(db, follower_state_name(run.spec.name)) or {}
    if not beat or beat.get("paused") or time.time() - float(beat.get("at", 0)) > FOLLOWER_STALE_S:
        return
    deadline = time.monotonic() + FOLLOWER_STALE_S
    while time.monotonic() < deadline:
        time.sleep(0.05)
        with run.service_db() as db:
            beat = read_state(db, follower_state_name(run.spec.name)) or {}
        if beat.get("paused"):
            run.on_step("follower", "paused")
            return
    raise StateError(
        f"the `strangler data follow` process of {run.spec.name} did not pause within {FOLLOWER_STALE_S:g}s",
        hint="stop it, then run this command again",
    )


def follower_state_name(spec_name: str) -> str:
    return f"{spec_name}/follower"


def _hold(run: _Run, journal: dict[str, Any], hold_timeout_s: float, max_queue: int) -> WriteHold:
    hold: list[WriteHold] = []

    def start() -> str:
        hold.append(run.proxy.hold_writes(run.routes, max_hold_s=hold_timeout_s, max_queue=max_queue))
        # Recorded at once: if this run is killed, the next one releases these too (to the owner of the moment).
        journal["holds"] = [*run.stale_holds, *hold[0].hold_id.split(",")]
        run.write_journal(journal)
        return f"holding writes to {', '.join(run.routes)} (at most {hold_timeout_s:g}s, {max_queue} requests)"

    run.result.hold_seconds = time.monotonic()
    run.step("hold", start)
    return hold[0]


def _release(run: _Run, hold: WriteHold, *, to: Owner) -> None:
    def release() -> str:
        run.proxy.release_writes(hold, to=to)
        if run.stale_holds:
            run.proxy.release_writes(WriteHold(",".join(run.stale_holds), hold.routes, hold.max_hold_s), to=to)
        run.result.hold_waits = dict(run.proxy.last_release.get("waits") or {})
        return f"released {run.proxy.last_release.get('released', 0)} held request(s) to the {to}"

    started = run.result.hold_seconds or time.monotonic()
    run.step("release", release)
    run.result.hold_seconds = round(time.monotonic() - started, 3)


def _drain_verify_realign_flip(run: _Run, *, to: Owner, journal: dict[str, Any]) -> str:
    """The held part of a handover, on one connection pair (each new one costs tens of ms of held writes)."""
    forward = to == "service"
    opener = run.forward if forward else run.reverse
    verified_at = ""
    with opener(exclusive=True) as ctx:

        def drain() -> str:
            applied = 0
            for _ in range(DRAIN_ROUNDS):
                result = run_sync(ctx)
                applied += result.applied
                if result.pending == 0:
                    return f"{ctx.direction} sync drained: {applied} change(s) applied, 0 pending"
            raise StateError(
                f"the {ctx.direction} sync did not drain: {result.pending} change(s) still pending",
                hint="something other than the held routes keeps writing these tables; stop it and re-run",
            )

        run.step("drain", drain)
        _maybe_fail(run, "drain")

        def verify() -> str:
            nonlocal verified_at
            verified_at = datetime.now(UTC).isoformat()
            return _verify_clean(ctx, forward=forward)

        run.step("verify", verify)
        _maybe_fail(run, "verify")
        run.step("realign", lambda: f"sequences {realign_sequences(ctx)}")
        _maybe_fail(run, "realign")
        run.step("flip", lambda: _flip(ctx, run, to=to, journal=journal))
        _maybe_fail(run, "flip")
    return verified_at


def _verify_clean(ctx: RunContext, *, forward: bool) -> str:
    report = run_verify(ctx)
    if not report.clean:
        listed = "; ".join(
            f"{t['table']}: {t['missing_count']} missing, {t['extra_count']} extra, "
            f"{t['different_count']} different (e.g. {(t['missing'] + t['extra'] + t['different'])[:5]})"
            for t in report.as_dict()["tables"]
            if not t["clean"]
        )
        raise StateError(
            f"verify found differences with writes held: {listed}",
            hint=f"investigate with `strangler data verify{'' if forward else ' --reverse'} SPEC`; "
            "the sync cannot explain a difference that stays while writes are held",
        )
    return f"{ctx.direction} verify clean: {sum(t.source_rows for t in report.tables)} rows"


def _reverify(run: _Run, *, forward: bool) -> str:
    """A resumed run after the flip: prove nothing reached the old owner while no hold was up."""
    with run.forward() if forward else run.reverse() as ctx:
        return _verify_clean(ctx, forward=forward)


def _flip(ctx: RunContext, run: _Run, *, to: Owner, journal: dict[str, Any]) -> str:
    """Stop capturing the old owner's writes and record the new owner (the writes are held meanwhile)."""
    uninstall_capture(ctx.source, ctx.spec.name, [t.source for t in ctx.tables])
    with ctx.target.transaction():
        delete_prefix(ctx.target, ctx.prefix)
    guarded = _set_guard(run, on=to == "service")
    journal["owner"] = to
    run.write_journal({**journal, "step": "flipped"})
    return f"the {to} owns the data of {run.spec.name}" + (
        " (foreign writes to the monolith logged)" if guarded else ""
    )


def _set_guard(run: _Run, *, on: bool) -> bool:
    """The retire evidence: while the service owns the data, log writes to the monolith's tables not made by the
    reverse sync (guard.py)."""
    tables = [t.source for t in run.spec.tables]
    if on:
        return install_guard(run.monolith_url, run.spec.name, tables)
    uninstall_guard(run.monolith_url, run.spec.name, tables)
    return False


def _start_capture(run: _Run, *, forward: bool) -> str:
    opener = run.forward if forward else run.reverse
    with opener(exclusive=True) as ctx:
        if not all(capture_installed(ctx.source, ctx.spec.name, [t.source for t in ctx.tables]).values()):
            # A fresh start: a position left from this direction's last run would point into a dropped changelog.
            with ctx.target.transaction():
                delete_prefix(ctx.target, ctx.prefix)
        run_backfill(ctx, capture_only=True)
        return f"{ctx.direction} capture installed, sync starts here (no copy: both sides verified equal)"


def _publish(run: _Run, owner: Owner, verified_at: str | None) -> str:
    state = DataState(
        spec=run.spec.name,
        phase="live" if owner == "service" else "syncing",
        lag_s=0.0,
        last_verify_clean=True,
        verified_at=verified_at or datetime.now(UTC).isoformat(),
    )
    run.proxy.publish_data_state(run.routes, state, owner=owner)
    return f"proxy told: the {owner} owns verified data"


def _set_stage(run: _Run, path: str, stage: str, percent: int, why: str) -> str:
    reason = f"{AUTHOR_NOTE} {run.result.op} {run.spec.name}: {why}"
    run.proxy.set_stage(path, stage, reason=reason, percent=percent, data=run.spec.name)
    return f"{path} -> {stage}" + (f" {percent}%" if stage == "canary" else "")


def _maybe_fail(run: _Run, step: str) -> None:
    if run.kill_after == step:
        os.kill(os.getpid(), signal.SIGKILL)
    if run.fail_after == step:
        raise StateError(f"injected failure after {step}", hint="tests only")


def _release_stale(run: _Run, journal: dict[str, Any], *, to: Owner) -> None:
    """Holds left by a run killed after its last step: release them, or their writes wait for the timeout."""
    if run.stale_holds:
        run.proxy.release_writes(WriteHold(",".join(run.stale_holds), run.routes, 0), to=to)
        run.write_journal({**journal, "holds": []})


def _abort_cutover(run: _Run, hold: WriteHold, flipped: bool, journal: dict[str, Any], cause: Exception) -> NoReturn:
    undo: list[str] = []
    try:
        if flipped:
            _undo_flip(run, back_to="monolith", journal=journal)
            undo.append("ownership back to the monolith")
        for path, before in (journal.get("previous") or {}).items():
            if run.proxy.route(path).stage != before["stage"]:
                _set_stage(run, path, before["stage"], int(before.get("percent", 0)), f"aborted: {_short(cause)}")
                undo.append(f"{path} back to {before['stage']}")
        run.write_journal({**journal, "owner": "monolith", "op": None, "step": "aborted"})
    finally:
        _release(run, hold, to="monolith")
    raise HandoverAborted(
        f"cutover of {run.spec.name} aborted: {_short(cause)}; restored: {', '.join(undo) or 'nothing had changed'}; "
        f"held writes released to the monolith",
        hint=getattr(cause, "hint", "") or "fix the cause, then run the cutover again",
    ) from cause


def _abort_rollback(run: _Run, hold: WriteHold, flipped: bool, journal: dict[str, Any], cause: Exception) -> NoReturn:
    undo: list[str] = []
    try:
        if flipped:
            _undo_flip(run, back_to="service", journal=journal)
            undo.append("ownership back to the service")
        for path in run.routes:
            if run.proxy.route(path).stage != "live":
                _set_stage(run, path, "live", 0, f"rollback aborted: {_short(cause)}")
                undo.append(f"{path} back to live")
        run.write_journal({**journal, "owner": "service", "op": None, "step": "rollback aborted"})
    finally:
        _release(run, hold, to="service")
    raise HandoverAborted(
        f"rollback of {run.spec.name} aborted: {_short(cause)}; restored: {', '.join(undo) or 'nothing had changed'}; "
        f"held writes released to the service",
        hint=getattr(cause, "hint", "") or "fix the cause, then run the rollback again",
    ) from cause


def _undo_flip(run: _Run, *, back_to: Owner, journal: dict[str, Any]) -> None:
    """Writes are still held, so both sides are still equal: swap the capture back and republish."""
    new_side = run.reverse if back_to == "monolith" else run.forward
    with new_side(exclusive=True) as ctx:
        uninstall_capture(ctx.source, ctx.spec.name, [t.source for t in ctx.tables])
        with ctx.target.transaction():
            delete_prefix(ctx.target, ctx.prefix)
    _start_capture(run, forward=back_to == "monolith")
    _set_guard(run, on=back_to == "service")
    journal["owner"] = back_to
    run.write_journal({**journal, "step": "flip undone"})
    _publish(run, back_to, None)


def _short(exc: BaseException) -> str:
    return exc.message if isinstance(exc, PlaybookError) else f"{type(exc).__name__}: {exc}"
