"""A handover run's lease in the service database: one run at a time, a dead run's lease runs out (at once when its
process is known gone), and `status` tells a running handover from one that stopped half done."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from strangler_playbook.database.connection import connect
from strangler_playbook.database.state import ensure_state_table, write_state
from strangler_playbook.errors import StateError
from strangler_playbook.handover.lease import RunLease, lease_alive, read_lease
from strangler_playbook.handover.run import handover_status, journal_name


@pytest.fixture(params=["sqlite", "pg"])
def service(request: pytest.FixtureRequest, make_db: Callable[[str], str]) -> str:
    url = make_db(request.param)
    db = connect(url, role="target", for_writes=True)
    try:
        ensure_state_table(db)
    finally:
        db.close()
    return url


def _lease(url: str) -> dict[str, object] | None:
    db = connect(url, role="target")
    try:
        return read_lease(db, "catalog")
    finally:
        db.close()


def _write(url: str, name: str, value: object) -> None:
    db = connect(url, role="target", for_writes=True)
    try:
        with db.transaction():
            write_state(db, name, value)
    finally:
        db.close()


def test_a_second_run_waits_for_a_live_lease_and_gives_up_while_it_is_renewed(service: str) -> None:
    # A lease of 1 s, renewed every third of it: a keeper thread starved for a while on a busy machine still renews
    # well within the lease's horizon, so only the claim's own patience decides.
    first = RunLease(service, "catalog", op="cutover", lease_s=1.0)
    assert first.claim() is None
    first.start()
    try:
        started = time.monotonic()
        with pytest.raises(StateError) as refused:
            RunLease(service, "catalog", op="rollback", lease_s=0.3).claim()
        assert time.monotonic() - started > 0.6  # it waited for the first lease to run out: it never did
        assert "a cutover of catalog is running" in refused.value.message
    finally:
        first.end()
    assert _lease(service) is None
    assert RunLease(service, "catalog", op="rollback", lease_s=0.3).claim() is None  # free again


def test_a_lease_runs_out_without_renewals_and_at_once_when_its_process_is_gone(service: str) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lease = RunLease(service, "catalog", op="cutover", lease_s=30)
    _write(service, "catalog/handover-lease", {**lease.value(), "run": "dead", "pid": int(dead.stdout)})
    assert not lease_alive(_lease(service))  # same host, no such process
    started = time.monotonic()
    replaced = lease.claim()
    assert replaced is not None and replaced["run"] == "dead" and time.monotonic() - started < 1
    lease.end()

    stalled = RunLease(service, "catalog", op="cutover", lease_s=0.2)
    stalled.claim()  # claimed, never renewed: no keeper
    assert lease_alive(_lease(service))
    deadline = time.monotonic() + 5
    while lease_alive(_lease(service)):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    other = RunLease(service, "catalog", op="rollback", lease_s=0.2)
    assert other.claim() is not None
    stalled.end()  # not its lease any more: it leaves the other run's alone
    assert (_lease(service) or {}).get("run") == other.run_id
    other.end()


def test_status_tells_a_running_handover_from_one_stopped_half_done(service: str) -> None:
    _write(service, journal_name("catalog"), {"owner": "service", "op": "cutover", "step": "committed"})
    db = connect(service, role="target")
    try:
        assert handover_status(db, "catalog") == {
            "owner": "service",
            "op": "cutover",
            "step": "committed",
            "running": False,
            "finish_with": "strangler data cutover SPEC",
            "drift": None,
        }
        lease = RunLease(service, "catalog", op="cutover", lease_s=5)
        lease.claim()
        status = handover_status(db, "catalog")
        assert status["running"] is True and status["finish_with"] is None
        lease.end()
    finally:
        db.close()
