"""What every `strangler data` command shares on the way in: the command classes (exit-code epilog, usage errors
exit 1), the spec and database options, the hold options, and the settings they resolve to."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import click
from strangler_proxy.cli import exit_codes

from strangler_playbook.errors import EXIT_CODES_HELP
from strangler_playbook.settings import Settings
from strangler_playbook.spec.spec import Spec, load_spec


class DataCommand(click.Command):
    """A `strangler data` command: its --help ends with the exit codes every `strangler` group shares."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("epilog", EXIT_CODES_HELP)
        super().__init__(*args, **kwargs)


class DataGroup(click.Group):
    """Usage mistakes exit 1 (click's default is 2, which here means a conflict)."""

    command_class = DataCommand

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            exc.exit_code = exit_codes.INVALID  # type: ignore[misc]
            raise


class Finite(click.FloatRange):
    """A number within the range; never nan or inf, which every comparison with a bound lets through."""

    name = "number"
    what = "a number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not {self.what}.", param, ctx)
        return number


class Seconds(Finite):
    name = "seconds"
    what = "a number of seconds"


class RowsPerSecond(Finite):
    name = "rows/s"
    what = "a number of rows per second"


def spec_options[F: Callable[..., Any]](func: F) -> F:
    """SPEC, --source, --target, --reverse and --json: every command takes them."""
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


def admin_url_option[F: Callable[..., Any]](func: F) -> F:
    return click.option(
        "--admin-url", metavar="URL", help="The proxy's admin API (default: STRANGLER_ADMIN_URL, else :8081)."
    )(func)


def hold_options[F: Callable[..., Any]](func: F) -> F:
    """Cutover and rollback: how long and how many writes the proxy may hold, when it starts holding, and where its
    admin API is."""
    # Here, not at the top: only the handover commands take these, and the handover code is imported for them only.
    from strangler_playbook.handover.lease import DEFAULT_LEASE_S
    from strangler_playbook.handover.steps import DEFAULT_HOLD_SETTLE_S, DEFAULT_HOLD_TIMEOUT_S, DEFAULT_MAX_QUEUE

    func = click.option(
        "--hold-timeout",
        type=Seconds(min=0.1, max=120),
        default=DEFAULT_HOLD_TIMEOUT_S,
        show_default=True,
        help="Seconds the proxy holds writes at most; past it they go on to the data's owner of that moment.",
    )(func)
    func = click.option(
        "--hold-settle",
        type=Seconds(min=0, max=120),
        default=DEFAULT_HOLD_SETTLE_S,
        show_default=True,
        metavar="SECONDS",
        help="Seconds the proxy may wait, writes flowing, for a moment with no write in flight to start holding; "
        "then it holds anyway and waits for the writes in flight (0: hold at once). Not verify's --settle.",
    )(func)
    func = click.option(
        "--lease",
        type=Seconds(min=0.3, max=60),
        default=DEFAULT_LEASE_S,
        show_default=True,
        help="Seconds the proxy keeps this run's hold without a renewal (every third of it): how long writes wait "
        "if this process dies.",
    )(func)
    func = click.option(
        "--max-queue",
        type=click.IntRange(min=1, max=100_000),
        default=DEFAULT_MAX_QUEUE,
        show_default=True,
        help="Held requests at most; beyond it a write gets 503 + Retry-After at once.",
    )(func)
    func = admin_url_option(func)
    # Fault injection for the tests that prove the abort and the re-run after kill -9.
    func = click.option("--fail-after", metavar="STEP", hidden=True)(func)
    func = click.option("--kill-after", metavar="STEP", hidden=True)(func)
    return func


def load(
    spec_path: str, source_url: str | None, target_url: str | None, admin_url: str | None = None
) -> tuple[Spec, Settings]:
    """The spec, then the settings it names (its database variables), validated before anything is touched."""
    spec = load_spec(spec_path)
    return spec, Settings.load(spec, source_url=source_url, target_url=target_url, admin_url=admin_url)
