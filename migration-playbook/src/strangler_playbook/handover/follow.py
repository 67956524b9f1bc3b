"""`strangler data follow SPEC`: keep the sync running in whichever direction the data flows now.

Before cutover the monolith owns the data and the forward sync runs; after it the service owns it and the reverse
sync runs. The follower reads the handover journal (`<spec>/handover` in the service database) between slices of
`sync --follow`, pauses while a cutover, rollback or retire runs (they drain the sync themselves and swap capture
under it) — that is, while the run's lease is alive (`lease.py`) — and resumes in the direction of the journal's
owner once it is done, or dead: a handover killed at any step leaves the follower paused for at most its lease.
One long-running process (as `make up` runs it) thus survives every flip of ownership; `sync --follow` would stop
at the first one, when its changelog is removed.

The follower writes a heartbeat (`<spec>/follower`: when, and whether it is paused) next to the journal;
`wait_for_follower` is the handover's side of that exchange, since a SQLite target has no engine lock to wait on.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import psycopg

from strangler_playbook.database.connection import Database, connect
from strangler_playbook.database.context import open_context
from strangler_playbook.database.state import delete_prefix, ensure_state_table, read_state, write_state
from strangler_playbook.errors import PlaybookError, StateError
from strangler_playbook.handover.lease import lease_alive, read_lease
from strangler_playbook.handover.run import HandoverRun, journal_name
from strangler_playbook.spec.spec import Spec
from strangler_playbook.sync.sync import run_sync

SLICE_S = 1.0
RETRY_MAX_S = 30.0
FOLLOWER_STALE_S = 5.0  # a follower heartbeat older than this is a follower that is gone


def follower_state_name(spec_name: str) -> str:
    return f"{spec_name}/follower"


def wait_for_follower(run: HandoverRun) -> None:
    """Before a handover drains and flips: wait (bounded) until a running follower says it paused, so that it
    neither applies nor records a position meanwhile. A follower sees the journal's op and pauses by itself."""
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


def follow_owner(
    spec: Spec,
    monolith_url: str,
    service_url: str,
    *,
    slice_s: float = SLICE_S,
    poll_s: float = 0.1,
    duration_s: float | None = None,
    log: Callable[[str], None] = print,
) -> int:
    """Follow until SIGTERM/SIGINT (or `duration_s`); returns the changes applied."""
    stop = {"requested": False}

    def requested(signum: int, frame: FrameType | None) -> None:
        stop["requested"] = True

    previous = [(s, signal.signal(s, requested)) for s in (signal.SIGTERM, signal.SIGINT)]
    deadline = None if duration_s is None else time.monotonic() + duration_s
    applied = 0
    said = ""
    delay = poll_s
    try:
        while not stop["requested"] and (deadline is None or time.monotonic() < deadline):
            try:
                db = connect(service_url, role="target", for_writes=True)
                try:
                    journal, running = _handover(db, spec.name)
                    _beat(db, spec.name, paused=running or journal.get("step") == "retired")
                    # Read again after saying "not paused": a handover that began meanwhile saw "paused" and went on.
                    journal, running = _handover(db, spec.name)
                finally:
                    db.close()
                if journal.get("step") == "retired":
                    said = _say(log, said, f"retired: the monolith's {spec.name} tables are archived, nothing to sync")
                    time.sleep(poll_s * 10)
                    continue
                if running:
                    said = _say(log, said, f"paused: a {journal['op']} of {spec.name} is running")
                    time.sleep(poll_s)
                    continue
                if journal.get("op"):
                    said = _say(
                        log,
                        said,
                        f"a {journal['op']} of {spec.name} stopped after step {journal.get('step')}: "
                        f"`strangler data {journal['op']} SPEC` finishes it; following meanwhile",
                    )
                reverse = journal.get("owner") == "service"
                source, target = (service_url, monolith_url) if reverse else (monolith_url, service_url)
                with open_context(spec, source, target, reverse=reverse, exclusive=True, lock_wait_s=slice_s) as ctx:
                    said = _say(log, said, f"following {ctx.direction} ({'service' if reverse else 'monolith'} owns)")
                    started = time.monotonic()
                    result = run_sync(ctx, follow=True, duration_s=slice_s, poll_s=poll_s)
                    applied += result.applied
                    if time.monotonic() - started < slice_s * 0.9:
                        break  # a following sync returns early only when SIGTERM/SIGINT asked it to stop
                delay = poll_s
            except (PlaybookError, psycopg.Error, sqlite3.Error) as exc:
                # The other direction's capture may be mid-flip, or a database restarting: say so, back off, retry.
                said = _say(log, said, f"waiting: {str(exc).splitlines()[0]}")
                time.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
    finally:
        for sig, handler in previous:
            signal.signal(sig, handler)
        try:
            db = connect(service_url, role="target", for_writes=True)
            try:
                with db.transaction():
                    delete_prefix(db, follower_state_name(spec.name))
            finally:
                db.close()
        except (PlaybookError, psycopg.Error, sqlite3.Error) as exc:
            log(f"could not clear the follower heartbeat: {exc}")
    return applied


def _handover(db: Database, spec_name: str) -> tuple[dict[str, Any], bool]:
    """The journal, and whether a handover is running now (its op set and its run's lease alive)."""
    journal = read_state(db, journal_name(spec_name)) or {}
    return journal, bool(journal.get("op")) and lease_alive(read_lease(db, spec_name))


def _beat(db: Database, spec_name: str, *, paused: bool) -> None:
    """The heartbeat a cutover reads: it waits for `paused` before draining (SQLite has no engine lock)."""
    ensure_state_table(db)
    with db.transaction():
        write_state(db, follower_state_name(spec_name), {"at": time.time(), "paused": paused})


def _say(log: Callable[[str], None], said: str, line: str) -> str:
    if line != said:
        log(line)
    return line
