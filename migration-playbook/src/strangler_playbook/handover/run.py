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

import psycopg

from strangler_playbook.database.connection import Database, connect
from strangler_playbook.database.context import RunContext, open_context
from strangler_playbook.database.state import ensure_state_table, read_state, write_state
from strangler_playbook.errors import ConnectError, StateError
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
    # Where the hold's time went, in ms: each step and engine-side cost under it (`HandoverRun.timed`), and
    # "other" for what no timer covered (Python between them); they add up to the hold.
    hold_breakdown: dict[str, float] = field(default_factory=dict)
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
    hold_started: float | None = None  # monotonic time the hold was asked for; None outside it
    _service: Database | None = field(default=None, init=False, repr=False)  # kept inside `session()`
    _keep: bool = field(default=False, init=False, repr=False)
    _timing: bool = field(default=False, init=False, repr=False)

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
        with self.timed(name):
            detail = action()
        seconds = round(time.monotonic() - started, 3)
        self.result.steps.append({"step": name, "seconds": seconds, "detail": detail})
        self.on_step(name, f"{detail} ({seconds:.3f}s)")

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Under the hold, add the block's time to `hold_breakdown[name]` (an outer timer counts an inner one's)."""
        if self.hold_started is None or self._timing:
            yield
            return
        self._timing = True
        started = time.monotonic()
        try:
            yield
        finally:
            self._timing = False
            spent = (time.monotonic() - started) * 1000
            self.result.hold_breakdown[name] = round(self.result.hold_breakdown.get(name, 0.0) + spent, 1)

    def hold_ended(self) -> None:
        """The hold is over: its length, and "other" for the part of it no timer covered."""
        if self.hold_started is None:
            return
        held = time.monotonic() - self.hold_started
        self.result.hold_seconds = round(held, 3)
        timed = sum(self.result.hold_breakdown.values())
        self.result.hold_breakdown["other"] = round(max(0.0, held * 1000 - timed), 1)
        self.hold_started = None

    @contextmanager
    def session(self) -> Iterator[None]:
        """Keep the journal's connection open until the block ends (a handover writes it a dozen times, several
        under the hold, where each new connection costs held writes tens of ms)."""
        self._keep = True
        try:
            yield
        finally:
            self._keep = False
            if self._service is not None:
                self._service.close()
                self._service = None

    @contextmanager
    def service_db(self) -> Iterator[Database]:
        """The service database alone (the journal's home): no table resolution, so it works after retire too."""
        if self._keep:
            if self._service is None:
                self._service = connect(self.service_url, role="target", for_writes=True)
                _journal_commits_unflushed(self._service)
            try:
                yield self._service
            except (ConnectError, psycopg.OperationalError):
                self._service.close()  # gone (a restart): the next use connects again
                self._service = None
                raise
            return
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
        with self.timed("journal"), self.service_db() as db:
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


def _journal_commits_unflushed(db: Database) -> None:
    """The journal's commits return without waiting for the disk (PostgreSQL `synchronous_commit = off`; SQLite
    `synchronous = NORMAL`, the monolith's own setting): several are under the hold. A commit a server crash then
    loses only makes the journal lag the proxy, which a re-run already expects (the proxy is the truth of the owner,
    and a re-run starts over or finishes from it). A process killed at any point loses none. The data the handover
    writes (drain, capture state, the monolith's owner record) keeps the database's full durability."""
    if db.engine == "postgresql":
        db.execute("SET synchronous_commit = off")
    else:
        db.execute("PRAGMA synchronous = NORMAL")


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
