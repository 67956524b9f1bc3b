"""A handover run's lease: while a cutover, rollback or retire runs, the service database says so, and the run keeps
saying it from a thread of its own (`RunLease`), renewing its write holds at the proxy in the same breath.

    lease = RunLease(service_url, "catalog", op="cutover", lease_s=3.0, renew_holds=proxy.renew_writes)
    lease.claim()          # waits out a dead run's lease; `StateError` while another run is alive
    lease.start()          # the keeper: every lease_s / 3, the database lease and the tracked holds are renewed
    lease.track(hold)      # ... this hold too; `lease.lost` once the proxy says it ended
    lease.end()            # stop renewing, forget the lease (a killed run's lease simply runs out)

`<spec>/handover-lease` in `_strangler_state` holds {run, op, holder, host, pid, until}. It is alive until `until`
(twice `lease_s` after the last renewal), or until its process is known dead (same host, no such process). The
follower pauses only while a lease is alive, so a dead handover never leaves it paused for longer than that; the
next run takes over once it is not alive, and only then releases the dead run's holds.

Times are the engine hosts' wall clocks: run the handover and the follower on hosts whose clocks agree.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from strangler_playbook.database.connection import Database, connect
from strangler_playbook.database.state import ensure_state_table, read_state, write_state
from strangler_playbook.errors import PlaybookError, StateError
from strangler_playbook.handover.proxy_seam import WriteHold

log = logging.getLogger("strangler_playbook.handover")

DEFAULT_LEASE_S = 3.0
HORIZON = 2.0  # a database lease runs this many `lease_s` past its last renewal
RENEWALS_PER_LEASE = 3


def lease_name(spec_name: str) -> str:
    return f"{spec_name}/handover-lease"


def read_lease(db: Database, spec_name: str) -> dict[str, Any] | None:
    value = read_state(db, lease_name(spec_name))
    return value if isinstance(value, dict) else None


def lease_alive(lease: dict[str, Any] | None) -> bool:
    """Whether the run holding `lease` may still be running."""
    if not lease or float(lease.get("until", 0)) <= time.time():
        return False
    return not (lease.get("host") == socket.gethostname() and not process_alive(int(lease.get("pid", 0))))


def process_alive(pid: int) -> bool:
    """False only when this host has no such process (or only its zombie): a reused pid reads as alive, which
    errs on the side of waiting for the lease to run out."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class RunLease:
    def __init__(
        self,
        service_url: str,
        spec_name: str,
        *,
        op: str,
        lease_s: float = DEFAULT_LEASE_S,
        renew_holds: Callable[[WriteHold], bool] | None = None,
    ) -> None:
        self.service_url = service_url
        self.spec_name = spec_name
        self.op = op
        self.lease_s = lease_s
        self.run_id = secrets.token_hex(4)
        self.holder = f"{spec_name}/{op}/{self.run_id}"
        self.renew_holds = renew_holds
        self.lost = False  # the proxy ended a tracked hold (its lease lapsed: this process stalled)
        self.error: str | None = None  # the keeper's last failure, if its last renewal failed
        self._holds: list[WriteHold] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def value(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "op": self.op,
            "holder": self.holder,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "until": time.time() + HORIZON * self.lease_s,
        }

    def claim(self) -> dict[str, Any] | None:
        """Take the spec's lease; wait (bounded) for another run's lease to stop being alive. Returns the lease it
        replaced (a dead run's), or None. `StateError` while another run keeps renewing its own."""
        db = connect(self.service_url, role="target", for_writes=True)
        try:
            ensure_state_table(db)
            deadline = None
            while True:
                other = self._swap(db, claim=True)
                if not lease_alive(other):
                    return other
                deadline = deadline or time.monotonic() + (HORIZON + 1) * float(self.lease_s) + 1.0
                if time.monotonic() > deadline:
                    assert other is not None
                    raise StateError(
                        f"a {other.get('op')} of {self.spec_name} is running (run {other.get('run')}, process "
                        f"{other.get('pid')} on {other.get('host')}): one handover at a time",
                        hint="wait for it to finish; if its process is gone, its lease runs out within "
                        f"{HORIZON * self.lease_s:g}s: run this command again then",
                    )
                time.sleep(0.1)
        finally:
            db.close()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._keep, name=f"lease {self.holder}", daemon=True)
        self._thread.start()

    def track(self, hold: WriteHold) -> None:
        self._holds.append(hold)

    def untrack(self, hold: WriteHold) -> None:
        self._holds = [h for h in self._holds if h is not hold]

    def end(self) -> None:
        """Stop renewing and forget the lease, if it is still this run's."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        db = connect(self.service_url, role="target", for_writes=True)
        try:
            self._swap(db, claim=False)
        finally:
            db.close()

    def _swap(self, db: Database, *, claim: bool) -> dict[str, Any] | None:
        """In one transaction (serialised against other runs): read the lease; write ours (claim) or delete it
        (release) when it is free or already ours. Returns the lease read."""
        name = lease_name(self.spec_name)
        with db.transaction():
            if db.engine == "postgresql":
                db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))
            current = read_lease(db, self.spec_name)
            ours = current is not None and current.get("run") == self.run_id
            if claim and (ours or not lease_alive(current)):
                write_state(db, name, self.value())
            elif not claim and ours:
                db.execute(f"DELETE FROM _strangler_state WHERE name = {db.ph}", (name,))
        return current

    def _keep(self) -> None:
        db: Database | None = None
        while not self._stop.wait(self.lease_s / RENEWALS_PER_LEASE):
            try:
                if db is None:
                    db = connect(self.service_url, role="target", for_writes=True)
                current = self._swap(db, claim=True)
                if current is not None and current.get("run") != self.run_id and lease_alive(current):
                    self.lost = True  # another run took over while this one stalled: its holds fence nothing now
                if self.renew_holds is not None:
                    for hold in list(self._holds):
                        if not self.renew_holds(hold):
                            self.lost = True
                            self.untrack(hold)
                self.error = None
            except (PlaybookError, psycopg.Error, sqlite3.Error) as exc:
                # The next tick tries again; a lease that runs out meanwhile only lets the follower resume, and a
                # hold that lapses makes the commit refuse: never a lost write.
                self.error = str(exc).splitlines()[0]
                log.warning("renewing the lease of %s failed: %s", self.holder, self.error)
                if db is not None:
                    db.close()
                    db = None
        if db is not None:
            db.close()
