"""`strangler data cutover | rollback | publish | follow | retire`: moving the system of record, with the proxy.

Cutover, rollback and publish talk to the proxy's admin API (settings: STRANGLER_ADMIN_URL or --admin-url,
STRANGLER_ADMIN_TOKEN); every route change is audited as STRANGLER_ACTOR (default "strangler data").
"""

from __future__ import annotations

from collections.abc import Callable

import click

from strangler_playbook.cli.options import (
    DataCommand,
    Seconds,
    admin_url_option,
    hold_options,
    load,
    spec_options,
)
from strangler_playbook.cli.output import print_json, run_command, step_echo
from strangler_playbook.errors import InvalidInput
from strangler_playbook.handover.cutover import run_cutover
from strangler_playbook.handover.follow import follow_owner
from strangler_playbook.handover.proxy_control import ProxyAdminControl
from strangler_playbook.handover.publish import publish_state
from strangler_playbook.handover.retire import run_retire
from strangler_playbook.handover.rollback import run_rollback
from strangler_playbook.handover.run import Faults, HandoverResult
from strangler_playbook.settings import Settings


def _proxy(settings: Settings) -> ProxyAdminControl:
    return ProxyAdminControl(settings.admin_url, settings.admin_token, author=settings.actor)


def _report(result: HandoverResult, json_output: bool) -> int:
    if json_output:
        print_json(result.as_dict())
        return 0
    if result.found:
        click.echo(f"found: {result.found}")
    if result.outcome == "already":
        stages = ", ".join(f"{p} {s}" for p, s in result.stages.items())
        click.echo(f"{result.spec}: nothing to do, the {result.owner} owns the data ({stages})")
        return 0
    waits = result.hold_waits
    p99 = waits.get("p99_ms")
    click.echo(
        f"{result.op} of {result.spec} done: the {result.owner} owns the data; writes held {result.hold_seconds}s"
        + (f", held requests waited p99 {p99} ms over {waits.get('held')}" if p99 is not None else "")
    )
    return 0


@click.command(cls=DataCommand)
@spec_options
@hold_options
def cutover(
    spec_path: str,
    source_url: str | None,
    target_url: str | None,
    reverse: bool,
    json_output: bool,
    hold_timeout: float,
    hold_settle: float,
    lease: float,
    max_queue: int,
    admin_url: str | None,
    fail_after: str | None,
    kill_after: str | None,
) -> None:
    """Make the service the system of record and its routes live, with the routes' writes held meanwhile.

    Steps: hold writes (a lease this command renews) → drain the sync → verify (must be clean) → realign the
    service's sequences → capture on the service → commit: the proxy sends writes to the service from here → stop
    capturing the monolith → routes live → release the held writes. A failure before the commit changes nothing
    (exit 7); after it, or if the command is killed at any step, run it again: it finishes, and no acknowledged
    write is lost meanwhile. A running `strangler data follow` pauses by itself and then follows in reverse; stop
    a `sync --follow` first (and start `sync --reverse --follow` after). --reverse is ignored.

    \b
    Examples:
      strangler data cutover specs/catalog.toml
      strangler data cutover specs/catalog.toml --hold-timeout 5 --json
      strangler data cutover specs/catalog.toml --hold-settle 2   # long writes: wait longer for a quiet moment
    """

    _handover(
        run_cutover,
        spec_path,
        source_url,
        target_url,
        admin_url,
        json_output,
        hold_timeout,
        hold_settle,
        lease,
        max_queue,
        fail_after,
        kill_after,
        next_hint="next: `strangler data follow SPEC` keeps the monolith up to date (it follows in reverse now)",
    )


@click.command(cls=DataCommand)
@spec_options
@hold_options
def rollback(
    spec_path: str,
    source_url: str | None,
    target_url: str | None,
    reverse: bool,
    json_output: bool,
    hold_timeout: float,
    hold_settle: float,
    lease: float,
    max_queue: int,
    admin_url: str | None,
    fail_after: str | None,
    kill_after: str | None,
) -> None:
    """Make the monolith the system of record again and put the routes back to their stage before the cutover.

    The mirror of cutover: hold writes → drain the reverse sync → verify it → realign the monolith's sequences →
    capture on the monolith → commit the monolith at the proxy → stop capturing the service → routes back
    (canary/shadow/off) → release. Killed at any step, run it again: it finishes. A running `strangler data
    follow` pauses and then follows forward again; stop a `sync --reverse --follow` first.

    \b
    Examples:
      strangler data rollback specs/catalog.toml
    """

    _handover(
        run_rollback,
        spec_path,
        source_url,
        target_url,
        admin_url,
        json_output,
        hold_timeout,
        hold_settle,
        lease,
        max_queue,
        fail_after,
        kill_after,
        next_hint="next: `strangler data follow SPEC` keeps the service up to date (it follows forward again)",
    )


def _handover(
    run: Callable[..., HandoverResult],
    spec_path: str,
    source_url: str | None,
    target_url: str | None,
    admin_url: str | None,
    json_output: bool,
    hold_timeout: float,
    hold_settle: float,
    lease: float,
    max_queue: int,
    fail_after: str | None,
    kill_after: str | None,
    *,
    next_hint: str,
) -> None:
    """Cutover and rollback: the same journaled run in opposite directions, against the proxy's admin API."""

    def action() -> int:
        spec, settings = load(spec_path, source_url, target_url, admin_url)
        monolith, service = settings.database_urls()
        proxy = _proxy(settings)
        try:
            result = run(
                spec,
                monolith,
                service,
                proxy,
                hold_timeout_s=hold_timeout,
                settle_s=hold_settle,
                max_queue=max_queue,
                lease_s=lease,
                on_step=step_echo(json_output),
                faults=Faults(fail_after=fail_after, kill_after=kill_after),
            )
        finally:
            proxy.close()
        code = _report(result, json_output)
        if not json_output and result.outcome == "done":
            click.echo(next_hint)
        return code

    run_command(action, json_output)


@click.command(cls=DataCommand)
@spec_options
@admin_url_option
def publish(
    spec_path: str,
    source_url: str | None,
    target_url: str | None,
    reverse: bool,
    json_output: bool,
    admin_url: str | None,
) -> None:
    """Tell the proxy the spec's data state (owner, phase, lag, last verify): its gate for canary/live reads it.

    Run it after `verify` (and whenever the sync has caught up) before moving a route to canary.

    \b
    Examples:
      strangler data verify specs/catalog.toml && strangler data publish specs/catalog.toml
    """

    def action() -> int:
        spec, settings = load(spec_path, source_url, target_url, admin_url)
        monolith, service = settings.database_urls()
        proxy = _proxy(settings)
        try:
            body = publish_state(spec, monolith, service, proxy)
        finally:
            proxy.close()
        if json_output:
            print_json(body)
        else:
            lag = "n/a" if body["lag_s"] is None else f"{body['lag_s']:.3f}s"
            verdict = {True: "clean", False: "DIFFERENT", None: "never"}[body["verify_clean"]]
            click.echo(
                f"{spec.name}: told the proxy — owner {body['owner']}, phase {body['phase']}, lag {lag}, "
                f"last verify {verdict}"
            )
        return 0

    run_command(action, json_output)


@click.command(cls=DataCommand)
@spec_options
@click.option("--slice", "slice_s", type=Seconds(min=0.1), default=1.0, show_default=True, hidden=True)
@click.option("--poll", type=Seconds(min=0.001), default=0.1, show_default=True, help="Idle poll interval (s).")
@click.option("--duration", type=Seconds(min=0), help="Stop after this many seconds (default: SIGTERM).")
def follow(
    spec_path: str,
    source_url: str | None,
    target_url: str | None,
    reverse: bool,
    json_output: bool,
    slice_s: float,
    poll: float,
    duration: float | None,
) -> None:
    """Keep the sync running in the direction the data flows now: forward while the monolith owns the data,
    reverse once `cutover` gave it to the service, forward again after `rollback`. Pauses during both.

    \b
    Examples:
      strangler data follow specs/catalog.toml                 # until SIGTERM
      strangler data follow specs/catalog.toml --duration 60
    """

    def action() -> int:
        spec, settings = load(spec_path, source_url, target_url)
        monolith, service = settings.database_urls()
        applied = follow_owner(
            spec,
            monolith,
            service,
            slice_s=slice_s,
            poll_s=poll,
            duration_s=duration,
            log=lambda line: click.echo(f"{spec.name}: {line}", err=True),
        )
        if json_output:
            print_json({"applied": applied})
        else:
            click.echo(f"applied {applied} changes")
        return 0

    run_command(action, json_output)


@click.command(cls=DataCommand)
@spec_options
@click.option("--yes", is_flag=True, help="Confirm: the reverse sync stops and the monolith's tables are renamed.")
def retire(
    spec_path: str, source_url: str | None, target_url: str | None, reverse: bool, json_output: bool, yes: bool
) -> None:
    """After cutover: drain the reverse sync, verify the monolith's tables equal the service's, stop the reverse
    sync and archive the monolith's tables (renamed <table>_retired_<date>). Run it again and it finishes or says
    it is done. Refused unless the service owns the data (exit 5); a failed proof archives nothing (exit 7).

    \b
    Examples:
      strangler data retire specs/catalog.toml --yes
    """

    def action() -> int:
        if not yes:
            raise InvalidInput(
                "retire needs --yes", hint="re-run with --yes once the monolith's code no longer uses them"
            )
        spec, settings = load(spec_path, source_url, target_url)
        monolith, service = settings.database_urls()
        result = run_retire(spec, monolith, service, on_step=step_echo(json_output))
        if json_output:
            print_json(result.as_dict())
        else:
            names = ", ".join(f"{t} -> {a}" for t, a in result.archived.items())
            verb = "already retired" if result.outcome == "already" else "retired"
            click.echo(f"{spec.name}: {verb}; archived {names}")
        return 0

    run_command(action, json_output)


COMMANDS = (cutover, rollback, publish, follow, retire)
