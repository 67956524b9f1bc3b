"""What every `strangler` command of this distribution shares: `--json`, and one way to report an error and exit
with its code (`exit_codes.py`)."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from strangler_proxy.cli.exit_codes import exit_code_for
from strangler_proxy.errors import AdminCallFailed, StranglerError, TableInvalid


def fail(exc: StranglerError, as_json: bool) -> NoReturn:
    """Print `exc` (the admin API's error body as is, or `{"error", "detail", "problems"?}`) and exit with its code."""
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
    """`--json` on every command; this distribution's errors become the documented exit codes."""

    @click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout (errors too).")
    @functools.wraps(fn)
    def wrapper(*args: Any, as_json: bool, **kwargs: Any) -> Any:
        try:
            return fn(*args, as_json=as_json, **kwargs)
        except StranglerError as exc:
            fail(exc, as_json)

    return wrapper  # type: ignore[return-value]
