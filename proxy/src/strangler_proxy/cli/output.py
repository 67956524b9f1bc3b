"""What every `strangler` command shares: documented exit codes, `--json`, and one way to report an error."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from strangler_proxy.control_errors import (
    AdminCallFailed,
    AdminUnreachable,
    ControlPlaneError,
    DataNotReady,
    StaleVersion,
    StoreUnavailable,
    TableInvalid,
)

EXIT_OK = 0
EXIT_INVALID = 1  # usage error, invalid input, unknown version
EXIT_CONFLICT = 2  # the route table changed since it was read: re-read and retry
EXIT_UNREACHABLE = 3  # the admin API (or the route store) cannot be reached or failed
EXIT_AUTH = 4  # the admin API refused the token
EXIT_DATA_GATE = 5  # the data gate refused canary/live: run the `strangler data` step it names

EXIT_CODES_HELP = """\b
Exit codes:
  0  ok
  1  usage or validation error (the message names the field)
  2  conflict: the routes changed since they were read; re-run to read them again
  3  cannot reach the admin API (or the route store)
  4  not authorised: set STRANGLER_ADMIN_TOKEN to the proxy's admin token
  5  refused by the data gate: the route's data is not synced, verified or owned yet (the message says what to run)"""


def exit_code_for(exc: ControlPlaneError) -> int:
    if isinstance(exc, AdminUnreachable | StoreUnavailable):
        return EXIT_UNREACHABLE
    if isinstance(exc, AdminCallFailed):
        if exc.status in (401, 403):
            return EXIT_AUTH
        if exc.status == 409:
            return EXIT_DATA_GATE if exc.code == "data_not_ready" else EXIT_CONFLICT
        return EXIT_UNREACHABLE if exc.status >= 500 else EXIT_INVALID
    if isinstance(exc, StaleVersion):
        return EXIT_CONFLICT
    if isinstance(exc, DataNotReady):
        return EXIT_DATA_GATE
    return EXIT_INVALID


def fail(exc: ControlPlaneError, as_json: bool) -> NoReturn:
    if isinstance(exc, AdminCallFailed):
        body: dict[str, Any] = dict(exc.body)
    else:
        body = {"error": exc.code, "detail": str(exc)}
        if isinstance(exc, TableInvalid):
            body["problems"] = [{"field": p.field, "message": p.message} for p in exc.problems]
    if as_json:
        click.echo(json.dumps(body, indent=2))
    else:
        problems = body.get("problems") or []
        if len(problems) > 1:
            click.secho(f"error: {len(problems)} problems, nothing was changed:", fg="red", err=True)
            for p in problems:
                click.echo(f"  - {p['field']}: {p['message']}" if p["field"] else f"  - {p['message']}", err=True)
        else:
            click.secho(f"error: {body.get('detail', exc)}", fg="red", err=True)
    sys.exit(exit_code_for(exc))


def json_option[F: Callable[..., Any]](fn: F) -> F:
    """`--json` on every command; control-plane errors become the documented exit codes."""

    @click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout (errors too).")
    @functools.wraps(fn)
    def wrapper(*args: Any, as_json: bool, **kwargs: Any) -> Any:
        try:
            return fn(*args, as_json=as_json, **kwargs)
        except ControlPlaneError as exc:
            fail(exc, as_json)

    return wrapper  # type: ignore[return-value]
