"""`strangler data rollback`: hand the system of record back from the service to the monolith, writes held.

The mirror image of `cutover.py`: hold, drain the reverse sync, verify it, realign the monolith's sequences,
capture afresh on the monolith, commit the monolith as the owner at the proxy, remove the service's capture (and
the retire guard), each route back to the stage it had before the cutover (default `shadow`), release. The state
machine, its journal steps and what a re-run does: `move.py`.
"""

from __future__ import annotations

from strangler_playbook.handover.lease import DEFAULT_LEASE_S
from strangler_playbook.handover.move import ROLLBACK, Limits, run_move
from strangler_playbook.handover.proxy_seam import ProxyControl
from strangler_playbook.handover.run import Faults, HandoverResult, HandoverRun, StepReporter, quiet
from strangler_playbook.handover.steps import DEFAULT_HOLD_SETTLE_S, DEFAULT_HOLD_TIMEOUT_S, DEFAULT_MAX_QUEUE
from strangler_playbook.spec.spec import Spec


def run_rollback(
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
    """Move the system of record back to the monolith and each route to its stage before the cutover."""
    run = HandoverRun(
        spec, monolith_url, service_url, HandoverResult("rollback", spec.name), on_step, faults or Faults()
    )
    return run_move(run, proxy, ROLLBACK, Limits(hold_timeout_s, max_queue, lease_s, settle_s))
