"""`strangler data cutover`: hand the system of record from the monolith to the service, writes held.

    hold      the proxy holds the spec's routes' unsafe requests (bounded: `hold_timeout`, `max_queue`)
    drain     the forward sync applies every pending change
    verify    must be clean, else abort
    realign   the service's id sequences past every id either side used
    flip      forward capture removed from the monolith; the journal says the service owns the data
    reverse   capture on the service and the reverse sync's start position (`backfill --reverse --capture-only`)
    publish   the proxy learns the service owns verified data (its gate allows `live`)
    live      each route `live` (declaring `data = <spec>`), audited as "strangler data"
    release   the held requests go on, to the service

Any failure after the hold aborts back to where the run started: a flip already made is undone (the writes are
still held, so both sides are equal), routes get their previous stage, the hold is released, and
`HandoverAborted` says why. Killed at any point, the same command finishes the run from its journal: steps
already done are done again harmlessly, and a flip already made is not made twice.
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


def run_cutover(
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
    """Move the system of record to the service and the spec's routes to `live`."""
    run = HandoverRun(
        spec, monolith_url, service_url, HandoverResult("cutover", spec.name), on_step, faults or Faults()
    )
    require_routes(spec)
    journal = run.journal()
    run.stale_holds = list(journal.get("holds") or [])
    routes = {path: proxy.route(path) for path in run.routes}
    if journal.get("owner") == "service" and all(r.stage == "live" for r in routes.values()):
        release_stale(run, proxy, journal, to="service")
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
    hold = start_holding(run, proxy, journal, hold_timeout_s, max_queue, owner="monolith")
    flipped = journal.get("owner") == "service"
    verified_at: str | None = None
    try:
        if not flipped:
            verified_at = drain_verify_realign_flip(run, to="service", journal=journal)
        else:
            run.step("verify", lambda: reverify(run, forward=True))
        run.step("reverse", lambda: start_capture(run, forward=False))
        run.faults.after("reverse")
        run.step("publish", lambda: publish_verified(run, proxy, "service", verified_at))
        for path in run.routes:
            why = "verified, ownership flipped to the service"
            run.step("live", partial(set_stage, run, proxy, path, "live", 0, why))
        run.faults.after("live")
    except Exception as exc:
        _abort(run, proxy, hold, journal.get("owner") == "service", journal, exc)
    release(run, proxy, hold, to="service")
    run.write_journal({**journal, "owner": "service", "op": None, "step": "live", "holds": []})
    run.result.owner = "service"
    run.result.stages = dict.fromkeys(run.routes, "live")
    return run.result


def _abort(
    run: HandoverRun, proxy: ProxyControl, hold: WriteHold, flipped: bool, journal: dict[str, Any], cause: Exception
) -> NoReturn:
    undo: list[str] = []
    try:
        if flipped:
            undo_flip(run, proxy, back_to="monolith", journal=journal)
            undo.append("ownership back to the monolith")
        for path, before in (journal.get("previous") or {}).items():
            if proxy.route(path).stage != before["stage"]:
                why = f"aborted: {summary(cause)}"
                set_stage(run, proxy, path, before["stage"], int(before.get("percent", 0)), why)
                undo.append(f"{path} back to {before['stage']}")
        run.write_journal({**journal, "owner": "monolith", "op": None, "step": "aborted"})
    finally:
        release(run, proxy, hold, to="monolith")
    raise HandoverAborted(
        f"cutover of {run.spec.name} aborted: {summary(cause)}; restored: {', '.join(undo) or 'nothing had changed'}; "
        f"held writes released to the monolith",
        hint=getattr(cause, "hint", "") or "fix the cause, then run the cutover again",
    ) from cause
