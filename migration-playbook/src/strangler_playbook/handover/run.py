"""One handover run (a cutover, rollback or retire): its spec and databases, its journal, and the steps it reports.

The journal (`<spec>/handover` in the service database's `_strangler_state`, reachable whichever side owns the
data) records the owner the engine last knew the proxy to have, the operation under way and its last step done
(`move.py` lists them), the run that wrote it, each route's stage before the cutover, differences a finishing
verify found and, after retire, the archive names. A run killed at any point is finished by running the same
command again, which reads the journal and asks the proxy; `handover_status` says which command that is.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from strangler_playbook.database.connection import Database, connect
from strangler_playbook.database.context import RunContext, open_context
from strangler_playbook.database.state import ensure_state_table, read_state, write_state
from strangler_playbook.errors import StateError
from strangler_playbook.handover.lease import lease_alive, read_lease
from strangler_playbook.spec.spec import Spec

LOCK_WAIT_S = 10.0

StepReporter = Callable[[str, str], None]


def quiet(step: str, detail: str) -> None:
    """The default `StepReporter`: say nothing."""


def journal_name(spec_name: str) -> str:
    return f"{spec_name}/handover"


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
    found: str | None = None  # what the run found: a dead run's step, the proxy's owner when they disagreed

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Faults:
    """Tests only: fail (`fail_after`) or SIGKILL this process (`kill_after`) right after the named step (a journal
    step of `move.py`, `drain`, `verify`, `realign`, `commit`, or `drain:batch` after a batch the drain applied), to
    prove the abort and the re-run."""

    fail_after: str | None = None
    kill_after: str | None = None

    def after(self, step: str) -> None:
        if self.kill_after == step:
            os.kill(os.getpid(), signal.SIGKILL)
        if self.fail_after == step:
            raise StateError(f"injected failure after {step}", hint="tests only")


@dataclass
class HandoverRun:
    spec: Spec
    monolith_url: str
    service_url: str
    result: HandoverResult
    on_step: StepReporter = quiet
    faults: Faults = field(default_factory=Faults)
    stale_holds: list[str] = field(default_factory=list)  # holds of a killed run, released with this run's

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
        """Run one step, timing it; its detail goes to the result and the reporter."""
        started = time.monotonic()
        detail = action()
        seconds = round(time.monotonic() - started, 3)
        self.result.steps.append({"step": name, "seconds": seconds, "detail": detail})
        self.on_step(name, f"{detail} ({seconds:.3f}s)")

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
            value = read_state(db, journal_name(self.spec.name))
        return dict(value) if isinstance(value, dict) else {"owner": "monolith", "previous": {}}

    def write_journal(self, journal: dict[str, Any]) -> None:
        with self.service_db() as db:
            ensure_state_table(db)
            with db.transaction():
                write_state(db, journal_name(self.spec.name), {**journal, "at": datetime.now(UTC).isoformat()})

    @property
    def routes(self) -> tuple[str, ...]:
        """The spec's routes as the route table writes them (no trailing slash)."""
        return tuple(r.rstrip("/") or "/" for r in self.spec.routes)

    @property
    def held_routes(self) -> tuple[str, ...]:
        """What the hold covers: the spec's routes, then its `hold_routes` (other routes whose writes reach its
        tables, e.g. placing an order reserves stock), as the route table writes them."""
        return self.routes + tuple(r.rstrip("/") or "/" for r in self.spec.hold_routes)


def handover_status(service: Database, spec_name: str) -> dict[str, Any]:
    """For `strangler data status`: whether a handover is running, or stopped half done and the one command that
    finishes it, and differences a finishing verify found."""
    journal = read_state(service, journal_name(spec_name)) or {}
    lease = read_lease(service, spec_name)
    op = journal.get("op")
    running = bool(op) and lease_alive(lease)
    status: dict[str, Any] = {
        "owner": journal.get("owner", "monolith"),
        "op": op,
        "step": journal.get("step"),
        "running": running,
        "finish_with": None,
        "drift": journal.get("drift"),
    }
    if op and not running:
        status["finish_with"] = f"strangler data {op} SPEC"
    return status
