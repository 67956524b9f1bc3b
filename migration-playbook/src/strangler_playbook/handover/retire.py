"""`strangler data retire`: after cutover, stop the reverse sync and archive the monolith's tables, once proven
that nothing but the sync wrote them.

Drain the reverse sync, verify it clean, check the guard the cutover installed (`guard.py`, PostgreSQL), remove
the reverse capture, rename each monolith table `<table>_retired_<date>`. Re-runnable: the journal records the
archive names before the renames, and a table already renamed is skipped.
"""

from __future__ import annotations

from datetime import UTC, datetime

from strangler_playbook.capture.triggers import uninstall_capture
from strangler_playbook.database.connection import Database, connect, quote
from strangler_playbook.database.state import delete_prefix
from strangler_playbook.errors import HandoverAborted, StateError, summary
from strangler_playbook.handover.follow import wait_for_follower
from strangler_playbook.handover.guard import foreign_writes, guard_table, set_guard
from strangler_playbook.handover.lease import RunLease
from strangler_playbook.handover.run import HandoverResult, HandoverRun, StepReporter, quiet
from strangler_playbook.spec.spec import Spec
from strangler_playbook.sync.sync import drain
from strangler_playbook.verify.verify import require_clean


def run_retire(
    spec: Spec,
    monolith_url: str,
    service_url: str,
    *,
    on_step: StepReporter = quiet,
) -> HandoverResult:
    """After cutover: drain the reverse sync, prove the monolith's tables equal the service's, stop the reverse
    sync and archive (rename) the monolith's tables. The proof is the drained sync plus a clean verify (a write
    that reached the monolith's tables outside the sync shows as a difference, unless the service rewrote the same
    row later) and, on a PostgreSQL monolith, the guard's empty log. Changes no route: no proxy needed."""
    run = HandoverRun(spec, monolith_url, service_url, HandoverResult("retire", spec.name), on_step)
    lease = RunLease(service_url, spec.name, op="retire")
    lease.claim()  # one handover at a time; the follower pauses while this lease is alive
    lease.start()
    try:
        return _retire(run, lease)
    finally:
        lease.end()


def _retire(run: HandoverRun, lease: RunLease) -> HandoverResult:
    spec, monolith_url = run.spec, run.monolith_url
    journal = run.journal()
    if journal.get("step") == "retired":
        run.result.outcome, run.result.owner = "already", "service"
        run.result.archived = dict(journal.get("archived") or {})
        return run.result
    if journal.get("owner") != "service" or journal.get("op") not in (None, "retire"):
        raise StateError(
            f"retire needs the service to own the data of {spec.name} (the monolith does, or a handover is running)",
            hint="run `strangler data cutover SPEC` first; retire only after the route has served live for a while",
        )
    journal = {**journal, "op": "retire", "run": lease.run_id, "step": "retiring"}
    run.write_journal(journal)
    wait_for_follower(run)
    suffix = "_retired_" + datetime.now(UTC).strftime("%Y%m%d")
    archived = dict(journal.get("archived") or {})
    try:
        if not archived:
            with run.reverse(exclusive=True) as ctx:
                run.step("drain", lambda: drain(ctx))
                run.step("verify", lambda: require_clean(ctx))
                run.step("evidence", lambda: _no_foreign_writes(ctx.target, spec.name))
                tables = [t.target for t in ctx.tables]
                uninstall_capture(ctx.source, ctx.spec.name, [t.source for t in ctx.tables])
                with ctx.target.transaction():
                    delete_prefix(ctx.target, ctx.prefix)
                run.result.steps.append({"step": "stop", "seconds": 0.0, "detail": "reverse capture removed"})
            archived = {table: table + suffix for table in tables}
            run.write_journal({**journal, "archived": archived})
    except Exception as exc:
        run.write_journal({**journal, "op": None, "run": None, "step": "live"})
        raise HandoverAborted(
            f"retire of {spec.name} aborted: {summary(exc)}; nothing was archived, the reverse sync goes on",
            hint=getattr(exc, "hint", "") or "fix the cause, then run retire again",
        ) from exc
    set_guard(monolith_url, spec, on=False)
    run.step("archive", lambda: _archive(run, archived))
    run.write_journal({**journal, "op": None, "run": None, "step": "retired", "archived": archived})
    run.result.owner = "service"
    run.result.archived = archived
    return run.result


def _no_foreign_writes(monolith: Database, spec_name: str) -> str:
    logged = foreign_writes(monolith, spec_name)
    if logged is None:
        return "no guard on this monolith (SQLite, or no replica privilege): the clean verify is the proof"
    if logged:
        listed = ", ".join(f"{what}: {n}" for what, n in logged.items())
        raise StateError(
            f"writes reached the monolith's tables outside the sync since the cutover ({listed} statements)",
            hint=f"find what still writes them (see {guard_table(spec_name)}: when, which role); "
            "retire once nothing does, after emptying that table",
        )
    return "the guard logged no foreign write since the cutover"


def _archive(run: HandoverRun, archived: dict[str, str]) -> str:
    """Rename each monolith table to its archive name; a table renamed by a killed run is skipped."""
    db = connect(run.monolith_url, role="target", for_writes=True)
    try:
        with db.transaction():
            for table, archive in archived.items():
                if db.table_exists(table) and not db.table_exists(archive):
                    db.execute(f"ALTER TABLE {quote(table)} RENAME TO {quote(archive)}")
    finally:
        db.close()
    return ", ".join(f"{t} -> {a}" for t, a in archived.items())
