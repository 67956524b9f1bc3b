"""`strangler data …`: a thin click layer over the engine's functions.

Exit codes: 0 ok · 1 bad usage or spec · 2 verify found differences · 3 cannot connect ·
4 schema mismatch (table/column missing) · 5 out of order (e.g. sync before backfill) · 6 database refused.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

import click
import psycopg
from rich.console import Console
from rich.table import Table as RichTable

from strangler_playbook.backfill import run_backfill
from strangler_playbook.capture import uninstall_capture
from strangler_playbook.errors import ConnectError, EngineError, PlaybookError, SpecError
from strangler_playbook.plan import make_plan
from strangler_playbook.progress import reporter
from strangler_playbook.run_context import database_urls, open_context
from strangler_playbook.sequences import realign_sequences
from strangler_playbook.spec import load_spec
from strangler_playbook.state import delete_prefix
from strangler_playbook.status import read_status
from strangler_playbook.sync import SyncResult, run_sync
from strangler_playbook.verify import run_verify

EXIT_DIFFERENCES = 2
RECONNECT_FIRST_S = 1.0
RECONNECT_MAX_S = 30.0


class _DataGroup(click.Group):
    """Usage mistakes exit 1 (click's default is 2, which here means "verify found differences")."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            exc.exit_code = 1  # type: ignore[misc]
            raise


def _common[F: Callable[..., Any]](func: F) -> F:
    func = click.option("--json", "json_output", is_flag=True, help="Print one JSON document; no progress bar.")(func)
    func = click.option(
        "--reverse", is_flag=True, help="Service → monolith: the same machinery with source and target swapped."
    )(func)
    func = click.option(
        "--target", "target_url", metavar="URL", help="Service database (default: the spec's target_url_env)."
    )(func)
    func = click.option(
        "--source", "source_url", metavar="URL", help="Monolith database (default: the spec's source_url_env)."
    )(func)
    func = click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False))(func)
    return func


@click.group(cls=_DataGroup, context_settings={"auto_envvar_prefix": "STRANGLER_DATA"})
def data() -> None:
    """Move an extraction's data: plan → backfill → sync → verify, with status at any time.

    SPEC is the extraction's TOML spec (tables, column maps, filters, routes). Database URLs are
    postgresql://user@host:port/db, sqlite:////absolute/path.db or a plain SQLite file path; pass them
    with --source/--target or set the environment variables the spec names.

    Every option is also an environment variable: STRANGLER_DATA_<COMMAND>_<OPTION>, e.g.
    STRANGLER_DATA_SYNC_POLL=0.2.
    """


@data.command()
@_common
def plan(spec_path: str, source_url: str | None, target_url: str | None, reverse: bool, json_output: bool) -> None:
    """Say exactly what backfill and sync will do. Reads both databases, changes nothing."""

    def action() -> int:
        spec = load_spec(spec_path)
        src, tgt = database_urls(spec, source_url, target_url, reverse=reverse)
        with open_context(spec, src, tgt, reverse=reverse, require_target=False) as ctx:
            result = make_plan(ctx)
        if json_output:
            _print_json(result)
        else:
            _print_plan(result)
        return 0

    _run(action, json_output)


@data.command()
@_common
@click.option("--chunk-rows", type=click.IntRange(min=1), help="Rows per chunk (default 50k with COPY, 2k otherwise).")
@click.option(
    "--throttle", type=click.FloatRange(min=0), default=0, metavar="ROWS/S", help="Cap the copy rate (0: none)."
)
@click.option("--no-copy", is_flag=True, help="Use batched upserts even between two PostgreSQL databases.")
@click.option("--allow-nonempty", is_flag=True, help="Upsert over target tables that already hold rows.")
@click.option(
    "--capture-only",
    is_flag=True,
    help="Install capture and record the sync start without copying (cutover's reverse start, tables verified equal).",
)
def backfill(
    spec_path: str,
    source_url: str | None,
    target_url: str | None,
    reverse: bool,
    json_output: bool,
    chunk_rows: int | None,
    throttle: float,
    no_copy: bool,
    allow_nonempty: bool,
    capture_only: bool,
) -> None:
    """Install change capture, then copy every row in keyset chunks. Safe to kill and re-run: it resumes."""

    def action() -> int:
        spec = load_spec(spec_path)
        src, tgt = database_urls(spec, source_url, target_url, reverse=reverse)
        with (
            open_context(spec, src, tgt, reverse=reverse, exclusive=True) as ctx,
            reporter(json_output=json_output) as progress,
        ):
            result = run_backfill(
                ctx,
                chunk_rows=chunk_rows,
                throttle_rows_per_s=throttle,
                reporter=progress,
                use_copy=not no_copy,
                allow_nonempty=allow_nonempty,
                capture_only=capture_only,
            )
        body = {
            "resumed": result.resumed,
            "rows": result.rows,
            "tables": [t.__dict__ for t in result.tables],
        }
        if json_output:
            _print_json(body)
        else:
            for t in result.tables:
                rate = f"{t.rows / t.seconds:,.0f} rows/s" if t.seconds else ""
                click.echo(f"{t.table}: {t.rows} rows in {t.chunks} chunks ({t.mode}) {t.seconds:.1f}s {rate}")
            click.echo("backfill complete; next: `strangler data sync SPEC --follow`")
        return 0

    _run(action, json_output)


@data.command()
@_common
@click.option(
    "--follow", is_flag=True, help="Keep applying changes until SIGTERM/SIGINT (default: stop when caught up)."
)
@click.option("--duration", type=click.FloatRange(min=0), help="With --follow: stop after this many seconds.")
@click.option("--batch", type=click.IntRange(min=1), default=1000, show_default=True, help="Changes per transaction.")
@click.option(
    "--poll", type=click.FloatRange(min=0.001), default=0.1, show_default=True, help="Idle poll interval (s)."
)
@click.option("--no-prune", is_flag=True, help="Keep applied changelog entries on the source.")
def sync(
    spec_path: str,
    source_url: str | None,
    target_url: str | None,
    reverse: bool,
    json_output: bool,
    follow: bool,
    duration: float | None,
    batch: int,
    poll: float,
    no_prune: bool,
) -> None:
    """Apply captured changes to the target, in order and idempotently; reports lag."""

    def action() -> int:
        spec = load_spec(spec_path)
        src, tgt = database_urls(spec, source_url, target_url, reverse=reverse)
        following = follow or duration is not None
        deadline = time.monotonic() + duration if duration is not None else None
        result = SyncResult()
        delay = RECONNECT_FIRST_S
        while True:
            try:
                with open_context(spec, src, tgt, reverse=reverse, exclusive=True) as ctx:
                    remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                    result.merge(
                        run_sync(
                            ctx, follow=following, duration_s=remaining, batch=batch, poll_s=poll, prune=not no_prune
                        )
                    )
                break
            except ConnectError as exc:
                # A following sync outlives restarts of either database: its position is durable in the target.
                if not following or (deadline is not None and time.monotonic() >= deadline):
                    raise
                click.echo(f"warning: {exc.message}; reconnecting in {delay:.0f}s", err=True)
                time.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_S)
        summary = result.summary()
        if json_output:
            _print_json(summary)
        else:
            p99 = summary["lag_p99_s"]
            lag = f", lag p99 {p99:.3f}s" if p99 is not None else ""
            click.echo(f"applied {summary['applied']} changes in {summary['batches']} batches{lag}")
            click.echo(f"pending now: {summary['pending']}")
        return 0

    _run(action, json_output)


@data.command()
@_common
@click.option(
    "--range-rows", type=click.IntRange(min=2), default=1_000_000, show_default=True, help="Rows per checksum range."
)
def verify(
    spec_path: str, source_url: str | None, target_url: str | None, reverse: bool, json_output: bool, range_rows: int
) -> None:
    """Compare source and target by checksums computed in each database; name every differing row. Exit 2 if any."""

    def action() -> int:
        spec = load_spec(spec_path)
        src, tgt = database_urls(spec, source_url, target_url, reverse=reverse)
        with open_context(spec, src, tgt, reverse=reverse) as ctx:
            report = run_verify(ctx, range_rows=range_rows)
        body = report.as_dict()
        if json_output:
            _print_json(body)
        else:
            for t in body["tables"]:
                verdict = "clean" if t["clean"] else "DIFFERENT"
                click.echo(
                    f"{t['table']}: {verdict} — source {t['source_rows']} rows, target {t['target_rows']} rows, "
                    f"{t['ranges']} ranges in {t['seconds']}s"
                )
                for kind in ("missing", "extra", "different"):
                    if t[f"{kind}_count"]:
                        keys = ", ".join(json.dumps(k) for k in t[kind][:20])
                        click.echo(f"  {kind} ({t[f'{kind}_count']}): {keys}")
            if not report.clean:
                click.echo("differences found: run `sync` until caught up, then verify again", err=True)
        return 0 if report.clean else EXIT_DIFFERENCES

    _run(action, json_output)


@data.command()
@_common
def realign(spec_path: str, source_url: str | None, target_url: str | None, reverse: bool, json_output: bool) -> None:
    """Set the target's id sequences past every id either side has used (at each flip of ownership)."""

    def action() -> int:
        spec = load_spec(spec_path)
        src, tgt = database_urls(spec, source_url, target_url, reverse=reverse)
        with open_context(spec, src, tgt, reverse=reverse) as ctx:
            result = realign_sequences(ctx)
        if json_output:
            _print_json(result)
        else:
            for table, value in result.items():
                click.echo(f"{table}: next id {value + 1}")
        return 0

    _run(action, json_output)


@data.command()
@_common
@click.option("--yes", is_flag=True, help="Confirm: the sync state is forgotten and capture removed.")
def reset(
    spec_path: str, source_url: str | None, target_url: str | None, reverse: bool, json_output: bool, yes: bool
) -> None:
    """Abandon this direction's data phases: remove capture from the source and forget the engine's state.

    Rows already copied stay in the target. Safe before cutover (the monolith is still the system of record);
    run `backfill` again to start over, after emptying the target tables.
    """

    def action() -> int:
        if not yes:
            raise SpecError("reset needs --yes", hint="re-run with --yes once you mean it")
        spec = load_spec(spec_path)
        src, tgt = database_urls(spec, source_url, target_url, reverse=reverse)
        with open_context(spec, src, tgt, reverse=reverse, require_target=False, exclusive=True) as ctx:
            uninstall_capture(ctx.source, ctx.spec.name, [t.source for t in ctx.tables])
            with ctx.target.transaction():
                delete_prefix(ctx.target, ctx.prefix)
        if json_output:
            _print_json({"reset": ctx.spec.name, "direction": ctx.direction})
        else:
            click.echo(f"{ctx.spec.name} ({ctx.direction}): capture removed, state forgotten")
        return 0

    _run(action, json_output)


@data.command()
@_common
def status(spec_path: str, source_url: str | None, target_url: str | None, reverse: bool, json_output: bool) -> None:
    """Phase, rows copied, sync lag and the last verify."""

    def action() -> int:
        spec = load_spec(spec_path)
        src, tgt = database_urls(spec, source_url, target_url, reverse=reverse)
        with open_context(spec, src, tgt, reverse=reverse, require_target=False) as ctx:
            result = read_status(ctx)
        if json_output:
            _print_json(result)
        else:
            console = _console()
            console.print(f"[bold]{result['spec']}[/] ({result['direction']}): phase [bold]{result['phase']}[/]")
            table = RichTable("table", "rows copied", "backfill")
            for name, t in result["tables"].items():
                table.add_row(name, str(t["rows_copied"]), "done" if t["backfill_done"] else "in progress")
            console.print(table)
            lag = result["sync"]["lag_s"]
            console.print(
                f"sync: {result['sync']['applied']} changes applied, {result['sync']['pending_changes']} pending, "
                f"lag {'n/a' if lag is None else f'{lag:.3f}s'}"
            )
            last = result["last_verify"]
            console.print(
                "last verify: "
                + ("never" if not last else f"{'clean' if last['clean'] else 'DIFFERENT'} at {last['at']}")
            )
        return 0

    _run(action, json_output)


def _run(action: Callable[[], int], json_output: bool) -> None:
    try:
        code = action()
    except PlaybookError as exc:
        _fail(exc, json_output)
    except psycopg.OperationalError as exc:  # the connection dropped mid-run
        _fail(
            ConnectError(f"lost the database connection: {exc}", hint="check the database, then re-run: it resumes"),
            json_output,
        )
    except (psycopg.Error, sqlite3.Error) as exc:
        _fail(
            EngineError(f"a database refused an operation: {exc}", hint="re-run once the cause is fixed"), json_output
        )
    sys.exit(code)


def _console() -> Console:
    # Piped output keeps whole table cells rather than rich's 80-column default.
    return Console() if sys.stdout.isatty() else Console(width=160)


def _fail(exc: PlaybookError, json_output: bool) -> NoReturn:
    if json_output:
        _print_json({"error": exc.message, "hint": exc.hint, "exit_code": exc.exit_code})
    click.echo(f"error: {exc}", err=True)
    sys.exit(exc.exit_code)


def _print_json(body: Any) -> None:
    click.echo(json.dumps(body, indent=2, default=str))


def _print_plan(result: dict[str, Any]) -> None:
    console = _console()
    console.print(
        f"[bold]{result['spec']}[/] ({result['direction']}): {result['source']['engine']} {result['source']['url']} → "
        f"{result['target']['engine']} {result['target']['url']}   phase: {result['phase']}"
    )
    if result["routes"]:
        console.print("routes: " + ", ".join(result["routes"]))
    table = RichTable("source", "target", "source rows", "target", "capture", "checkpoint")
    for t in result["tables"]:
        target = "missing" if not t["target_exists"] else f"{t['target_rows']} rows"
        checkpoint = t["checkpoint"]
        cp = "none" if not checkpoint else ("done" if checkpoint["done"] else f"after {checkpoint['last_key']}")
        table.add_row(
            t["source"], t["target"], str(t["source_rows"]), target, "yes" if t["capture_installed"] else "no", cp
        )
    console.print(table)
    console.print("[bold]steps[/]")
    for number, step in enumerate(result["steps"], 1):
        console.print(f"  {number}. {step}")


# cutover, rollback, publish: registered on `data` by importing their module (it imports `data` from here).
from strangler_playbook import cli_handover  # noqa: E402, F401
