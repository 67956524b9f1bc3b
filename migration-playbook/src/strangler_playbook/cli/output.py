"""What every `strangler data` command shares on the way out: one JSON document or human lines, and one place
where an engine error becomes its message, hint and exit code."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import click
from strangler_proxy.cli import exit_codes

from strangler_playbook.errors import ConnectError, EngineError, HandoverAborted, NotAuthorised, PlaybookError

if TYPE_CHECKING:
    from rich.console import Console


def run_command(action: Callable[[], int], json_output: bool) -> NoReturn:
    """Run a command's body and exit with its code; an engine error exits with its branch's code."""
    import psycopg  # here, not at the top: --help and usage errors never need the driver

    try:
        code = action()
    except PlaybookError as exc:
        fail(exc, json_output)
    # The database layer translates what it runs; these are the last resort for a driver call outside it.
    except psycopg.OperationalError as exc:  # the connection dropped mid-run
        fail(
            ConnectError(f"lost the database connection: {exc}", hint="check the database, then re-run: it resumes"),
            json_output,
        )
    except (psycopg.Error, sqlite3.Error) as exc:
        fail(EngineError(f"a database refused an operation: {exc}", hint="re-run once the cause is fixed"), json_output)
    sys.exit(code)


def fail(exc: PlaybookError, json_output: bool) -> NoReturn:
    code = exit_code(exc)
    if json_output:
        print_json({"error": exc.message, "hint": exc.hint, "exit_code": int(code)})
    click.echo(f"error: {exc}", err=True)
    sys.exit(code)


def exit_code(exc: PlaybookError) -> int:
    """The branch's code; a handover stopped because the proxy refused the token exits 4 like every other command
    the same token is refused to (it put everything back, and running it again with the right token is the fix)."""
    if isinstance(exc, HandoverAborted) and isinstance(exc.__cause__, NotAuthorised):
        return exit_codes.NOT_AUTHORISED
    return exc.exit_code


def print_json(body: Any) -> None:
    click.echo(json.dumps(body, indent=2, default=str))


def console() -> Console:
    from rich.console import Console  # only the human output of plan and status draws with rich

    # Piped output keeps whole table cells rather than rich's 80-column default.
    return Console() if sys.stdout.isatty() else Console(width=160)


def step_echo(json_output: bool) -> Callable[[str, str], None]:
    """A handover's step reporter: one line per step on a terminal, nothing with --json."""

    def echo(step: str, detail: str) -> None:
        if not json_output:
            click.echo(f"  {step:<8} {detail}")

    return echo
