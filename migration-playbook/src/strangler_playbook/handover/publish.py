"""Telling the proxy the data state its gate reads: the owner, and the phase, lag and last verify of the direction
the data flows now (forward while the monolith owns it, reverse after cutover)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from strangler_playbook.database.context import RunContext
from strangler_playbook.errors import StateError
from strangler_playbook.handover.proxy_seam import DataState, Owner, ProxyControl, WriteHold
from strangler_playbook.handover.run import HandoverResult, HandoverRun
from strangler_playbook.spec.spec import Spec
from strangler_playbook.sync.status import read_status


def data_state(ctx: RunContext) -> DataState:
    """What the proxy's gate needs, from this direction's status."""
    status = read_status(ctx)
    last = status["last_verify"] or {}
    return DataState(
        spec=status["spec"],
        phase=str(status["phase"]),
        lag_s=status["sync"]["lag_s"],
        last_verify_clean=None if not last else bool(last["clean"]),
        verified_at=last.get("at"),
    )


def publish_state(spec: Spec, monolith_url: str, service_url: str, proxy: ProxyControl) -> dict[str, Any]:
    """`strangler data publish`: report the data state of the direction now running to the proxy."""
    run = HandoverRun(spec, monolith_url, service_url, HandoverResult("publish", spec.name))
    journal = run.journal()
    owner: Owner = "service" if journal.get("owner") == "service" else "monolith"
    believed = proxy.data_owner(spec.name)
    if believed is not None and believed != owner:
        op = journal.get("op") or ("cutover" if believed == "service" else "rollback")
        raise StateError(
            f"the proxy sends the writes of {spec.name} to the {believed}, but the journal says the {owner} owns its "
            f"data: a {op} stopped at its commit point",
            hint=f"run `strangler data {op} SPEC` to finish it (it publishes too)",
        )
    with run.reverse() if owner == "service" else run.forward() as ctx:
        state = data_state(ctx)
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


def publish_verified(
    run: HandoverRun,
    proxy: ProxyControl,
    owner: Owner,
    verified_at: str | None,
    *,
    clean: bool = True,
    fence: WriteHold | None = None,
) -> str:
    """A handover's report, writes held and verified (`clean` or not): the `owner` holds current data. With
    `fence` (this run's hold) it may name a new owner: the commit point."""
    state = DataState(
        spec=run.spec.name,
        phase="live" if owner == "service" else "syncing",
        lag_s=0.0,
        last_verify_clean=clean,
        verified_at=verified_at or datetime.now(UTC).isoformat(),
    )
    proxy.publish_data_state(run.routes, state, owner=owner, fence=fence)
    return f"proxy told: the {owner} owns {'verified' if clean else 'DIFFERING'} data"
