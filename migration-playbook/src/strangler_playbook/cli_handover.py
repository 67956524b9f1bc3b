"""`strangler data cutover | rollback | publish | follow`: moving the system of record, with the proxy.

They talk to the proxy's admin API at STRANGLER_ADMIN_URL with STRANGLER_ADMIN_TOKEN (or --admin-url); every
route change is audited as STRANGLER_ACTOR (default "strangler data"). Exit codes as for the other commands, plus
7: the cutover or rollback aborted and restored the previous state (the message says why).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from strangler_playbook.cli import _common, _print_json, _run, data
from strangler_playbook.errors import SpecError
from strangler_playbook.follow import follow_owner
from strangler_playbook.handover import (
    DEFAULT_HOLD_TIMEOUT_S,
    DEFAULT_MAX_QUEUE,
    HandoverResult,
    publish_state,
    run_cutover,
    run_rollback,
)
from strangler_playbook.proxy_control import ProxyAdminControl
from strangler_playbook.retire import run_retire
from strangler_playbook.run_context import database_urls
from strangler_playbook.spec import load_spec


def _hold_options[F: Callable[..., Any]](func: F) -> F:
    func = click.option(
        "--hold-timeout",
        type=click.FloatRange(min=0.1, max=120),
        default=DEFAULT_HOLD_TIMEOUT_S,
        show_default=True,
        help="Seconds the proxy holds writes at most; past it they get 503 + Retry-After and nothing is written.",
    )(func)
    func = click.option(
        "--max-queue",
        type=click.IntRange(min=1, max=100_000),
        default=DEFAULT_MAX_QUEUE,
        show_default=True,
        help="Held requests at most; beyond it a write gets 503 + Retry-After at once.",
    )(func)
    func = click.option(
        "--admin-url", metavar="URL", help="The proxy's admin API (default: STRANGLER_ADMIN_URL, else :8081)."
    )(func)
    # Fault injection for the tests that prove the abort and the re-run after kill -9.
    func = click.option("--fail-after", metavar="STEP", hidden=True)(func)
    func = click.option("--kill-after", metavar="STEP", hidden=True)(func)
    return func


def _report(result: HandoverResult, json_output: bool) -> int:
    if json_output:
        _print_json(result.as_dict())
        return 0
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


def _echo_step(json_output: bool) -> Callable[[str, str], None]:
    def echo(step: str, detail: str) -> None:
        if not json_output:
            click.echo(f"  {step:<8} {detail}")

    return echo


@data.command()
@_common
@_hold_options
def cutover(
    spec_path: str,
    source_url: str | None,
    target_url: str | None,
    reverse: bool,
    json_output: bool,
    hold_timeout: float,
    max_queue: int,
    admin_url: str | None,
    fail_after: str | None,
    kill_after: str | None,
) -> None:
    """Make the service the system of record and its routes live, with the routes' writes held meanwhile.

    Steps: hold writes → drain the sync → verify (must be clean) → realign the service's sequences → flip
    ownership → start the reverse sync (service → monolith) → routes live → release the held writes to the
    service. Any failure puts everything back (exit 7, the reason said). Killed midway, run it again: it finishes.
    A running `strangler data follow` pauses by itself and then follows in reverse; stop a `sync --follow` first
    (and start `sync --reverse --follow` after). --reverse is ignored: the direction is the journal's.
    """

    _handover(
        run_cutover,
        spec_path,
        source_url,
        target_url,
        admin_url,
        json_output,
        hold_timeout,
        max_queue,
        fail_after,
        kill_after,
        next_hint="next: `strangler data follow SPEC` keeps the monolith up to date (it follows in reverse now)",
    )


@data.command()
@_common
@_hold_options
def rollback(
    spec_path: str,
    source_url: str | None,
    target_url: str | None,
    reverse: bool,
    json_output: bool,
    hold_timeout: float,
    max_queue: int,
    admin_url: str | None,
    fail_after: str | None,
    kill_after: str | None,
) -> None:
    """Make the monolith the system of record again and put the routes back to their stage before the cutover.

    The mirror of cutover: hold writes → drain the reverse sync → verify it → realign the monolith's sequences →
    flip ownership back → resume the forward sync from here → routes back (canary/shadow/off) → release.
    A running `strangler data follow` pauses and then follows forward again; stop a `sync --reverse --follow` first.
    """

    _handover(
        run_rollback,
        spec_path,
        source_url,
        target_url,
        admin_url,
        json_output,
        hold_timeout,
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
    max_queue: int,
    fail_after: str | None,
    kill_after: str | None,
    *,
    next_hint: str,
) -> None:
    """Cutover and rollback: the same journaled run in opposite directions, against the proxy's admin API."""

    def action() -> int:
        spec = load_spec(spec_path)
        monolith, service = database_urls(spec, source_url, target_url, reverse=False)
        proxy = ProxyAdminControl(admin_url)
        try:
            result = run(
                spec,
                monolith,
                service,
                proxy,
                hold_timeout_s=hold_timeout,
                max_queue=max_queue,
                on_step=_echo_step(json_output),
                fail_after=fail_after,
                kill_after=kill_after,
            )
        finally:
            proxy.close()
        code = _report(result, json_output)
        if not json_output and result.outcome == "done":
            click.echo(next_hint)
        return code

    _run(action, json_output)


@data.command()
@_common
@click.option("--admin-url", metavar="URL", help="The proxy's admin API (default: STRANGLER_ADMIN_URL, else :8081).")
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
    """

    def action() -> int:
        spec = load_spec(spec_path)
        monolith, service = database_urls(spec, source_url, target_url, reverse=False)
        proxy = ProxyAdminControl(admin_url)
        try:
            body = publish_state(spec, monolith, service, proxy)
        finally:
            proxy.close()
        if json_output:
            _print_json(body)
        else:
            lag = "n/a" if body["lag_s"] is None else f"{body['lag_s']:.3f}s"
            verdict = {True: "clean", False: "DIFFERENT", None: "never"}[body["verify_clean"]]
            click.echo(
                f"{spec.name}: told the proxy — owner {body['owner']}, phase {body['phase']}, lag {lag}, "
                f"last verify {verdict}"
            )
        return 0

    _run(action, json_output)


@data.command()
@_common
@click.option("--slice", "slice_s", type=click.FloatRange(min=0.1), default=1.0, show_default=True, hidden=True)
@click.option(
    "--poll", type=click.FloatRange(min=0.001), default=0.1, show_default=True, help="Idle poll interval (s)."
)
@click.option("--duration", type=click.FloatRange(min=0), help="Stop after this many seconds (default: SIGTERM).")
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
    reverse once `cutover` gave it to the service, forward again after `rollback`. Pauses during both."""

    def action() -> int:
        spec = load_spec(spec_path)
        monolith, service = database_urls(spec, source_url, target_url, reverse=False)
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
            _print_json({"applied": applied})
        else:
            click.echo(f"applied {applied} changes")
        return 0

    _run(action, json_output)


@data.command()
@_common
@click.option("--yes", is_flag=True, help="Confirm: the reverse sync stops and the monolith's tables are renamed.")
def retire(
    spec_path: str, source_url: str | None, target_url: str | None, reverse: bool, json_output: bool, yes: bool
) -> None:
    """After cutover: drain the reverse sync, verify the monolith's tables equal the service's, stop the reverse
    sync and archive the monolith's tables (renamed <table>_retired_<date>). Run it again and it finishes or says
    it is done. Refused unless the service owns the data (exit 5); a failed proof archives nothing (exit 7)."""

    def action() -> int:
        if not yes:
            raise SpecError("retire needs --yes", hint="re-run with --yes once the monolith's code no longer uses them")
        spec = load_spec(spec_path)
        monolith, service = database_urls(spec, source_url, target_url, reverse=False)
        result = run_retire(spec, monolith, service, on_step=_echo_step(json_output))
        if json_output:
            _print_json(result.as_dict())
        else:
            names = ", ".join(f"{t} -> {a}" for t, a in result.archived.items())
            verb = "already retired" if result.outcome == "already" else "retired"
            click.echo(f"{spec.name}: {verb}; archived {names}")
        return 0

    _run(action, json_output)
