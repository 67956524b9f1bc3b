"""`strangler data cutover`: hand the system of record from the monolith to the service, writes held.

    hold      the proxy holds the spec's routes' unsafe requests (a lease this run renews; bounded: `hold_timeout`,
              `max_queue`)
    drain     the forward sync applies every pending change
    verify    must be clean, else abort (nothing changed)
    realign   the service's id sequences past every id either side used
    capture   capture on the service and the reverse sync's start position (`backfill --reverse --capture-only`)
    commit    the proxy accepts the service as the owner under this hold: writes go there from now on
    uncapture forward capture removed from the monolith; the retire guard installed
    routes    each route `live` (declaring `data = <spec>`), audited as "strangler data"
    release   the held requests go on, to the service

`move.py` is the state machine (both directions), its journal steps and what a re-run does with each.
"""

from __future__ import annotations

from strangler_playbook.handover.lease import DEFAULT_LEASE_S
from strangler_playbook.handover.move import CUTOVER, Limits, run_move
from strangler_playbook.handover.proxy_seam import ProxyControl
from strangler_playbook.handover.run import Faults, HandoverResult, HandoverRun, StepReporter, quiet
from strangler_playbook.handover.steps import DEFAULT_HOLD_SETTLE_S, DEFAULT_HOLD_TIMEOUT_S, DEFAULT_MAX_QUEUE
from strangler_playbook.spec.spec import Spec


def run_cutover(
    spec: Spec,
    monolith_url: str,
    service_url: str,
    proxy: ProxyControl,
    *,
    hold_timeout_s: float = DEFAULT_HOLD_TIMEOUT_S,
    max_queue: int = DEFAULT_MAX_QUEUE,
    lease_s: float = DEFAULT_LEASE_S,
    settle_s: float = DEFAULT_HOLD_SETTLE_S,
    on_step: StepReporter = quiet,
    faults: Faults | None = None,
) -> HandoverResult:
    """Move the system of record to the service and the spec's routes to `live`."""
    run = HandoverRun(
        spec, monolith_url, service_url, HandoverResult("cutover", spec.name), on_step, faults or Faults()
    )
    return run_move(run, proxy, CUTOVER, Limits(hold_timeout_s, max_queue, lease_s, settle_s))
