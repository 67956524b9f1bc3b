"""`strangler data rollback`: hand the system of record back from the service to the monolith, writes held.

The mirror image of `cutover.py`: hold, drain the reverse sync, verify it, realign the monolith's sequences, flip
back (reverse capture removed, forward capture re-installed from the verified state), publish, each route back to
the stage it had before the cutover (default `shadow`), release. Any failure after the hold puts the service back
in charge and the routes back to `live` (`HandoverAborted`); a killed run is finished by running it again.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NoReturn

from strangler_playbook.errors import HandoverAborted, StateError, summary
from strangler_playbook.handover.proxy_seam import ProxyControl, WriteHold
from strangler_playbook.handover.publish import publish_verified
from strangler_playbook.handover.run import Faults, HandoverResult, HandoverRun, StepReporter, quiet
from strangler_playbook.handover.steps import (
    DEFAULT_HOLD_TIMEOUT_S,
    DEFAULT_MAX_QUEUE,
    drain_verify_realign_flip,
    release,
    release_stale,
    require_routes,
    reverify,
    set_stage,
    start_capture,
    start_holding,
    undo_flip,
)
from strangler_playbook.spec.spec import Spec


def run_rollback(
    spec: Spec,
    monolith_url: str,
    service_url: str,
    proxy: ProxyControl,
    *,
    hold_timeout_s: float = DEFAULT_HOLD_TIMEOUT_S,
    max_queue: int = DEFAULT_MAX_QUEUE,
    on_step: StepReporter = quiet,
    faults: Faults | None = None,
) -> HandoverResult:
    """Move the system of record back to the monolith and each route to its stage before the cutover."""
    run = HandoverRun(
        spec, monolith_url, service_url, HandoverResult("rollback", spec.name), on_step, faults or Faults()
    )
    require_routes(spec)
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
        release_stale(run, proxy, journal, to="monolith")
        run.result.outcome = "already"
        run.result.stages = {p: r.stage for p, r in routes.items()}
        return run.result
    journal = {**journal, "op": "rollback", "step": "hold"}
    run.write_journal(journal)
    hold = start_holding(run, proxy, journal, hold_timeout_s, max_queue, owner="service")
    flipped = journal.get("owner") == "monolith"
    verified_at: str | None = None
    try:
        if not flipped:
            verified_at = drain_verify_realign_flip(run, to="monolith", journal=journal)
        else:
            run.step("verify", lambda: reverify(run, forward=False))
        run.step("forward", lambda: start_capture(run, forward=True))
        run.step("publish", lambda: publish_verified(run, proxy, "monolith", verified_at))
        for path in run.routes:
            before = previous.get(path) or {"stage": "shadow", "percent": 0}
            stage = before["stage"] if before["stage"] != "live" else "shadow"
            why = "rolled back: the monolith owns the data again"
            run.step("stage", partial(set_stage, run, proxy, path, stage, int(before.get("percent", 0)), why))
            run.result.stages[path] = stage
        run.faults.after("stage")
    except Exception as exc:
        _abort(run, proxy, hold, journal.get("owner") == "monolith", journal, exc)
    release(run, proxy, hold, to="monolith")
    run.write_journal({**journal, "owner": "monolith", "op": None, "step": "rolled back", "holds": []})
    run.result.owner = "monolith"
    return run.result


def _abort(
    run: HandoverRun, proxy: ProxyControl, hold: WriteHold, flipped: bool, journal: dict[str, Any], cause: Exception
) -> NoReturn:
    undo: list[str] = []
    try:
        if flipped:
            undo_flip(run, proxy, back_to="service", journal=journal)
            undo.append("ownership back to the service")
        for path in run.routes:
            if proxy.route(path).stage != "live":
                set_stage(run, proxy, path, "live", 0, f"rollback aborted: {summary(cause)}")
                undo.append(f"{path} back to live")
        run.write_journal({**journal, "owner": "service", "op": None, "step": "rollback aborted"})
    finally:
        release(run, proxy, hold, to="service")
    raise HandoverAborted(
        f"rollback of {run.spec.name} aborted: {summary(cause)}; restored: {', '.join(undo) or 'nothing had changed'}; "
        f"held writes released to the service",
        hint=getattr(cause, "hint", "") or "fix the cause, then run the rollback again",
    ) from cause
