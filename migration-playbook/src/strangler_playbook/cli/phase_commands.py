"""`strangler data plan | backfill | sync | verify | realign | reset | status`: the data phases, one direction at
a time (`--reverse` for service → monolith). Each command is a thin layer over one engine function."""

from __future__ import annotations

import json
import time
from typing import Any

import click
from strangler_proxy.cli import exit_codes

from strangler_playbook.cli.options import DataCommand, RowsPerSecond, Seconds, load, spec_options
from strangler_playbook.cli.output import console, print_json, run_command, step_echo
from strangler_playbook.errors import ConnectError, InvalidInput

# Each command imports the engine modules it runs inside its body: `backfill` then starts without the verify, sync,
# repair and handover code (and the proxy's admin client they bring), and --help imports no engine module at all.
# tests/cli/test_cli.py checks what `backfill` imports.

RECONNECT_FIRST_S = 1.0
DEFAULT_VERIFY_SETTLE_S = 10.0
RECONNECT_MAX_S = 30.0


@click.command(cls=DataCommand)
@spec_options
def plan(spec_path: str, source_url: str | None, target_url: str | None, reverse: bool, json_output: bool) -> None:
    """Say exactly what backfill and sync will do, in the direction the data flows now (after a cutover: the
    reverse sync, and nothing to copy). Reads both databases, changes nothing.

    \b
    Examples:
      strangler data plan specs/catalog.toml
      strangler data plan specs/catalog.toml --source postgresql://shop@db/shop --target postgresql://c@db/catalog
    """

    def action() -> int:
        from strangler_playbook.backfill.plan import make_plan
        from strangler_playbook.cli.data_owner import owner_steps, read_owner
        from strangler_playbook.database.context import open_context

        spec, settings = load(spec_path, source_url, target_url)
        owner = read_owner(spec, settings.database_urls()[1])
        flows_reverse = reverse or owner.reverse  # the direction the data flows now, unless asked for the other
        src, tgt = settings.database_urls(reverse=flows_reverse)
        with open_context(spec, src, tgt, reverse=flows_reverse, require_target=False) as ctx:
            result = make_plan(ctx)
        result = {**result, "data_owner": owner.as_dict(), "steps": [*owner_steps(owner), *result["steps"]]}
        if json_output:
            print_json(result)
        else:
            _print_plan(result)
        return 0

    run_command(action, json_output)


@click.command(cls=DataCommand)
@spec_options
@click.option("--chunk-rows", type=click.IntRange(min=1), help="Rows per chunk (default 50k with COPY, 2k otherwise).")
@click.option("--throttle", type=RowsPerSecond(min=0), default=0, metavar="ROWS/S", help="Cap the copy rate (0: none).")
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
    """Install change capture, then copy every row in keyset chunks. Safe to kill and re-run: it resumes.

    \b
    Examples:
      strangler data backfill specs/catalog.toml
      strangler data backfill specs/catalog.toml --throttle 5000      # a busy monolith: at most 5k rows/s
    """

    def action() -> int:
        from strangler_playbook.backfill.backfill import run_backfill
        from strangler_playbook.backfill.progress import reporter
        from strangler_playbook.database.context import open_context

        spec, settings = load(spec_path, source_url, target_url)
        src, tgt = settings.database_urls(reverse=reverse)
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
            print_json(body)
        else:
            for t in result.tables:
                rate = f"{t.rows / t.seconds:,.0f} rows/s" if t.seconds else ""
                click.echo(f"{t.table}: {t.rows} rows in {t.chunks} chunks ({t.mode}) {t.seconds:.1f}s {rate}")
            click.echo("backfill complete; next: `strangler data sync SPEC --follow`")
        return 0

    run_command(action, json_output)


@click.command(cls=DataCommand)
@spec_options
@click.option(
    "--follow", is_flag=True, help="Keep applying changes until SIGTERM/SIGINT (default: stop when caught up)."
)
@click.option("--duration", type=Seconds(min=0), help="With --follow: stop after this many seconds.")
@click.option("--batch", type=click.IntRange(min=1), default=1000, show_default=True, help="Changes per transaction.")
@click.option("--poll", type=Seconds(min=0.001), default=0.1, show_default=True, help="Idle poll interval (s).")
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
    """Apply captured changes to the target, in order and idempotently; reports lag.

    \b
    Examples:
      strangler data sync specs/catalog.toml                 # until caught up
      strangler data sync specs/catalog.toml --follow        # keep going until SIGTERM
      strangler data sync specs/catalog.toml --reverse       # service → monolith, after cutover
    """

    def action() -> int:
        from strangler_playbook.database.context import open_context
        from strangler_playbook.sync.sync import SyncResult, run_sync

        spec, settings = load(spec_path, source_url, target_url)
        src, tgt = settings.database_urls(reverse=reverse)
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
            print_json(summary)
        else:
            p99 = summary["lag_p99_s"]
            lag = f", lag p99 {p99:.3f}s" if p99 is not None else ""
            click.echo(f"applied {summary['applied']} changes in {summary['batches']} batches{lag}")
            click.echo(f"pending now: {summary['pending']}")
        return 0

    run_command(action, json_output)


@click.command(cls=DataCommand)
@spec_options
@click.option(
    "--range-rows", type=click.IntRange(min=2), default=1_000_000, show_default=True, help="Rows per checksum range."
)
@click.option(
    "--settle",
    type=Seconds(min=0),
    default=DEFAULT_VERIFY_SETTLE_S,
    show_default=True,
    metavar="SECONDS",
    help="Under writes: re-check differing ranges once the sync passed the changes logged meanwhile, for at most "
    "this long (0: report the first pass).",
)
def verify(
    spec_path: str,
    source_url: str | None,
    target_url: str | None,
    reverse: bool,
    json_output: bool,
    range_rows: int,
    settle: float,
) -> None:
    """Compare source and target by checksums computed in each database; name every differing row. Exit 8 if any.

    Under steady writes a difference may be a change the sync has not applied yet: verify waits (at most --settle)
    until the sync has passed every change logged meanwhile and re-checks only the ranges that differed. Rows that
    still differ then are drift (a write that bypassed capture): `strangler data repair SPEC` fixes exactly those.

    \b
    Examples:
      strangler data verify specs/catalog.toml
      strangler data verify specs/catalog.toml --settle 30       # a busy monolith: give the sync longer
      strangler data verify specs/catalog.toml --reverse --json  # after cutover: the monolith against the service
    """

    def action() -> int:
        from strangler_playbook.database.context import open_context
        from strangler_playbook.verify.verify import run_verify

        spec, settings = load(spec_path, source_url, target_url)
        src, tgt = settings.database_urls(reverse=reverse)
        with open_context(spec, src, tgt, reverse=reverse) as ctx:
            report = run_verify(ctx, range_rows=range_rows, settle_s=settle)
        body = report.as_dict()
        if json_output:
            print_json(body)
        else:
            for t in body["tables"]:
                verdict = "clean" if t["clean"] else "DIFFERENT"
                rechecked = f", re-checked {t['rechecks']}x after the sync" if t["rechecks"] else ""
                click.echo(
                    f"{t['table']}: {verdict} — source {t['source_rows']} rows, target {t['target_rows']} rows, "
                    f"{t['ranges']} ranges in {t['seconds']}s{rechecked}"
                )
                for kind in ("missing", "extra", "different"):
                    if t[f"{kind}_count"]:
                        keys = ", ".join(json.dumps(k) for k in t[kind][:20])
                        click.echo(f"  {kind} ({t[f'{kind}_count']}): {keys}")
            if not report.clean:
                click.echo(_verify_hint(report.settled, reverse), err=True)
        return exit_codes.OK if report.clean else exit_codes.DIFFERENCES

    run_command(action, json_output)


def _verify_hint(settled: bool | None, reverse: bool) -> str:
    flag = " --reverse" if reverse else ""
    repair = f"`strangler data repair{flag} SPEC` copies the owner's version of exactly these rows, then verifies"
    if settled:
        return f"differences found although the sync applied every change logged meanwhile (drift): {repair}"
    return (
        f"differences found and the sync has not caught up (is `strangler data follow` running?): run `strangler data "
        f"sync{flag} SPEC`, then verify again; rows that still differ then are drift: {repair}"
    )


@click.command(cls=DataCommand)
@spec_options
@click.option(
    "--settle",
    type=Seconds(min=0),
    default=DEFAULT_VERIFY_SETTLE_S,
    show_default=True,
    metavar="SECONDS",
    help="How long verify may wait for the sync to pass the changes logged meanwhile (before and after).",
)
def repair(
    spec_path: str, source_url: str | None, target_url: str | None, reverse: bool, json_output: bool, settle: float
) -> None:
    """Give the rows that differ although the sync has caught up (a write that bypassed capture) the owner's version,
    under the same checks as the sync, then verify again. Exit 0 clean, 8 if rows still differ.

    The direction is the data's: the monolith's rows while it owns them, the service's after a cutover. Each
    differing key becomes a changelog entry that the sync applies like any change (a running `strangler data
    follow` does, otherwise this command syncs).

    \b
    Examples:
      strangler data repair specs/catalog.toml
      strangler data repair specs/catalog.toml --json
    """

    def action() -> int:
        from strangler_playbook.cli.data_owner import read_owner
        from strangler_playbook.repair.repair import run_repair

        spec, settings = load(spec_path, source_url, target_url)
        service = settings.database_urls()[1]
        flows_reverse = reverse or read_owner(spec, service).reverse
        src, tgt = settings.database_urls(reverse=flows_reverse)
        result = run_repair(
            spec, src, tgt, reverse=flows_reverse, service_url=service, settle_s=settle, on_step=step_echo(json_output)
        )
        if json_output:
            print_json(result.as_dict())
        else:
            for table, kinds in result.found.items():
                counts = ", ".join(f"{len(keys)} {kind}" for kind, keys in kinds.items() if keys)
                click.echo(f"{table}: {counts} — now the {result.owner}'s version")
            click.echo(
                f"{spec.name}: repaired, verify clean"
                if result.clean
                else f"{spec.name}: rows still differ after repair",
                err=not result.clean,
            )
        return exit_codes.OK if result.clean else exit_codes.DIFFERENCES

    run_command(action, json_output)


@click.command(cls=DataCommand)
@spec_options
def realign(spec_path: str, source_url: str | None, target_url: str | None, reverse: bool, json_output: bool) -> None:
    """Set the target's id sequences past every id either side has used (at each flip of ownership).

    \b
    Examples:
      strangler data realign specs/catalog.toml
    """

    def action() -> int:
        from strangler_playbook.database.context import open_context
        from strangler_playbook.handover.sequences import realign_sequences

        spec, settings = load(spec_path, source_url, target_url)
        src, tgt = settings.database_urls(reverse=reverse)
        with open_context(spec, src, tgt, reverse=reverse) as ctx:
            result = realign_sequences(ctx)
        if json_output:
            print_json(result)
        else:
            for table, value in result.items():
                click.echo(f"{table}: next id {value + 1}")
        return 0

    run_command(action, json_output)


@click.command(cls=DataCommand)
@spec_options
@click.option("--yes", is_flag=True, help="Confirm: the sync state is forgotten and capture removed.")
def reset(
    spec_path: str, source_url: str | None, target_url: str | None, reverse: bool, json_output: bool, yes: bool
) -> None:
    """Abandon this direction's data phases: remove capture from the source and forget the engine's state.

    Rows already copied stay in the target. Safe before cutover (the monolith is still the system of record);
    run `backfill` again to start over, after emptying the target tables.

    \b
    Examples:
      strangler data reset specs/catalog.toml --yes
    """

    def action() -> int:
        from strangler_playbook.capture.triggers import uninstall_capture
        from strangler_playbook.database.context import open_context
        from strangler_playbook.database.state import delete_prefix

        if not yes:
            raise InvalidInput("reset needs --yes", hint="re-run with --yes once you mean it")
        spec, settings = load(spec_path, source_url, target_url)
        src, tgt = settings.database_urls(reverse=reverse)
        with open_context(spec, src, tgt, reverse=reverse, require_target=False, exclusive=True) as ctx:
            uninstall_capture(ctx.source, ctx.spec.name, [t.source for t in ctx.tables])
            with ctx.target.transaction():
                delete_prefix(ctx.target, ctx.prefix)
        if json_output:
            print_json({"reset": ctx.spec.name, "direction": ctx.direction})
        else:
            click.echo(f"{ctx.spec.name} ({ctx.direction}): capture removed, state forgotten")
        return 0

    run_command(action, json_output)


@click.command(cls=DataCommand)
@spec_options
def status(spec_path: str, source_url: str | None, target_url: str | None, reverse: bool, json_output: bool) -> None:
    """Who owns the data, and the phase, rows copied, sync lag and last verify of the direction it flows now
    (forward until a cutover, reverse after it, forward again after a rollback; --reverse asks for reverse).

    \b
    Examples:
      strangler data status specs/catalog.toml
      strangler data status specs/catalog.toml --json | jq .sync
    """

    def action() -> int:
        from strangler_playbook.cli.data_owner import read_owner, with_owner
        from strangler_playbook.database.context import open_context
        from strangler_playbook.handover.run import handover_status
        from strangler_playbook.sync.status import read_status

        spec, settings = load(spec_path, source_url, target_url)
        owner = read_owner(spec, settings.database_urls()[1])
        flows_reverse = reverse or owner.reverse  # the direction the data flows now, unless asked for the other
        src, tgt = settings.database_urls(reverse=flows_reverse)
        with open_context(spec, src, tgt, reverse=flows_reverse, require_target=False) as ctx:
            result = with_owner(read_status(ctx), owner)
            result["handover"] = handover_status(ctx.source if flows_reverse else ctx.target, spec.name)
        if json_output:
            print_json(result)
        else:
            from rich.table import Table as RichTable

            out = console()
            out.print(f"[bold]{result['spec']}[/] ({result['direction']}): phase [bold]{result['phase']}[/]")
            out.print(f"owner: {owner.sentence()}")
            table = RichTable("table", "rows copied", "backfill")
            for name, t in result["tables"].items():
                if not t["copied"]:
                    table.add_row(name, "-", "not needed: started at a handover, both sides verified equal")
                else:
                    table.add_row(name, str(t["rows_copied"]), "done" if t["backfill_done"] else "in progress")
            out.print(table)
            sync = result["sync"]
            pending = "n/a (no change capture)" if sync["pending_changes"] is None else sync["pending_changes"]
            lag = "n/a" if sync["lag_s"] is None else f"{sync['lag_s']:.3f}s"
            out.print(f"{result['direction']} sync: {sync['applied']} changes applied, {pending} pending, lag {lag}")
            last = result["last_verify"]
            by = f" (by {last['by']})" if last and last.get("by") else ""
            verdict = "never" if not last else f"{'clean' if last['clean'] else 'DIFFERENT'} at {last['at']}{by}"
            out.print(f"last verify: {verdict}")
            out.print(_handover_line(result["handover"], spec_path))
        return 0

    run_command(action, json_output)


def _handover_line(handover: dict[str, Any], spec_path: str) -> str:
    """Who owns the data, and a handover running or stopped half done with the one command that finishes it."""
    line = f"owner: the {handover['owner']}"
    if handover["running"]:
        line += f"; a {handover['op']} is running (step {handover['step']})"
    elif handover["op"]:
        line += (
            f"; [bold]a {handover['op']} stopped half done[/] after step {handover['step']}: finish it with "
            f"`strangler data {handover['op']} {spec_path}`"
        )
    if handover["drift"]:
        line += (
            f"; [bold]its verify found differences with writes held[/]: {handover['drift']} — repair them "
            f"(`strangler data repair`), then run the {handover['op'] or 'handover'} again"
        )
    return line


def _print_plan(result: dict[str, Any]) -> None:
    from rich.table import Table as RichTable

    out = console()
    out.print(
        f"[bold]{result['spec']}[/] ({result['direction']}): {result['source']['engine']} {result['source']['url']} → "
        f"{result['target']['engine']} {result['target']['url']}   phase: {result['phase']}"
    )
    if result["routes"]:
        out.print("routes: " + ", ".join(result["routes"]))
    table = RichTable("source", "target", "source rows", "target", "capture", "checkpoint")
    for t in result["tables"]:
        target = "missing" if not t["target_exists"] else f"{t['target_rows']} rows"
        checkpoint = t["checkpoint"]
        cp = "none" if not checkpoint else ("done" if checkpoint["done"] else f"after {checkpoint['last_key']}")
        if checkpoint and checkpoint.get("mode") == "capture-only":
            cp = "none needed"
        table.add_row(
            t["source"], t["target"], str(t["source_rows"]), target, "yes" if t["capture_installed"] else "no", cp
        )
    out.print(table)
    out.print("[bold]steps[/]")
    for number, step in enumerate(result["steps"], 1):
        out.print(f"  {number}. {step}")


COMMANDS = (plan, backfill, sync, verify, repair, realign, reset, status)
