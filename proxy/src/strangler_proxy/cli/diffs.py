"""`strangler diffs`: read the mismatches the comparator stored, and turn one into a test or a curl command.

Reads the mismatch table in the route store's database directly (`--route-store` / STRANGLER_ROUTE_STORE, the
same value `strangler proxy` uses), so it works while the proxy is down too.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from strangler_proxy.cli import exit_codes
from strangler_proxy.cli.output import json_option
from strangler_proxy.compare.mismatch_export import curl_commands, pytest_file
from strangler_proxy.compare.mismatch_store import MismatchStore, open_mismatch_store
from strangler_proxy.errors import StoreUnavailable

DEFAULT_STORE = "./strangler-routes.sqlite3"


class DiffsContext:
    def __init__(self, url: str) -> None:
        self.url = url
        self._store: MismatchStore | None = None

    @property
    def store(self) -> MismatchStore:
        if self._store is None:
            if not self.url.startswith(("postgresql://", "postgres://")):
                path = Path(self.url.removeprefix("sqlite:///"))
                if not path.is_file():
                    raise StoreUnavailable(
                        f"no route store at {path}: pass --route-store (or STRANGLER_ROUTE_STORE) with the value "
                        "`strangler proxy` runs with"
                    )
            self._store = open_mismatch_store(self.url)
        return self._store


pass_diffs = click.make_pass_decorator(DiffsContext)


@click.group(epilog=exit_codes.epilog(exit_codes.DIFFS_CODES))
@click.option(
    "--route-store",
    envvar="STRANGLER_ROUTE_STORE",
    default=DEFAULT_STORE,
    show_default=True,
    help="The proxy's route store (SQLite path or postgresql:// URL); mismatches live beside it.",
)
@click.pass_context
def diffs(ctx: click.Context, route_store: str) -> None:
    """Mismatches between the monolith and a service, as the comparator stored them (redacted).

    \b
    Examples:
      strangler diffs list --route /api/catalog
      strangler diffs show 42
      strangler diffs export 42 --pytest -o tests/test_mismatch_42.py    # a failing test until fixed
      strangler diffs export 42 --curl                                    # the request against both sides
    """
    ctx.obj = DiffsContext(route_store)


@diffs.command("list", epilog=exit_codes.epilog(exit_codes.DIFFS_CODES))
@click.option("--route", help="Only this route (its path, e.g. /api/catalog).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True, help="Newest first.")
@json_option
@pass_diffs
def diffs_list(dc: DiffsContext, as_json: bool, route: str | None, limit: int) -> None:
    """List stored mismatches, newest first: id, when, route, request, statuses, differing fields, request id.

    \b
    Examples:
      strangler diffs list
      strangler diffs list --route /api/catalog --limit 100 --json
    """
    rows = dc.store.recent(limit=limit, route=route)
    if as_json:
        click.echo(json.dumps({"mismatches": [r.as_dict() for r in rows]}, indent=2))
        return
    if not rows:
        click.echo("no mismatches stored" + (f" for {route}" if route else ""))
        return
    for r in rows:
        fields = ", ".join(r.fields[:3]) + (f" (+{len(r.fields) - 3})" if len(r.fields) > 3 else "")
        click.echo(
            f"{r.id:>6}  {r.created_at}  {r.route}  {r.method} {r.target}  {r.status}  {fields}  "
            f"request {r.request_id or '-'}"
        )


@diffs.command("show", epilog=exit_codes.epilog(exit_codes.DIFFS_CODES))
@click.argument("mismatch_id", type=int)
@json_option
@pass_diffs
def diffs_show(dc: DiffsContext, as_json: bool, mismatch_id: int) -> None:
    """Show one mismatch: the request (and its request id, as the access log has it), every differing field, and
    both answers.

    \b
    Examples:
      strangler diffs show 42
      strangler diffs show 42 --json | jq .diffs
    """
    record = dc.store.get(mismatch_id)
    if as_json:
        click.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    request = record["request"]
    click.secho(f"mismatch {record['id']}  {record['created_at']}  route {record['route']}", bold=True)
    click.echo(f"request id {record.get('request_id') or '-'} (the access log's and the answer's X-Request-Id)")
    click.echo(f"{request['method']} {request['target']}")
    for name, value in request["headers"]:
        click.echo(f"  {name}: {value}")
    if request["body"]:
        click.echo(f"  body: {request['body'][:500]}")
    click.echo("\ndifferences (monolith -> service):")
    net = set(record.get("net_fields", []))
    for d in record["diffs"]:
        mark = "" if d["field"] in net else "  (noise)"
        click.echo(f"  {d['path']}  {d['kind']}: {json.dumps(d['expected'])} -> {json.dumps(d['actual'])}{mark}")
    for side, label in (("expected", "monolith"), ("actual", "service")):
        answer = record[side]
        click.echo(f"\n{label} answered {answer['status']} in {answer['seconds'] * 1000:.1f} ms:")
        click.echo(f"  {answer['body'][:1000]}")


@diffs.command("export", epilog=exit_codes.epilog(exit_codes.DIFFS_CODES))
@click.argument("mismatch_id", type=int)
@click.option("--pytest", "as_pytest", is_flag=True, help="Write a pytest file that replays it against both sides.")
@click.option("--curl", "as_curl", is_flag=True, help="Print the request as curl commands, one per side.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@json_option
@pass_diffs
def diffs_export(
    dc: DiffsContext, as_json: bool, mismatch_id: int, as_pytest: bool, as_curl: bool, output: Path | None
) -> None:
    """Export one mismatch as a ready pytest file (--pytest) or copy-as-curl commands (--curl).

    The pytest file sends the recorded request to both upstreams (MONOLITH_URL / SERVICE_URL override the
    recorded addresses) and fails while their answers differ. Credentials were redacted when the mismatch was
    stored: for a signed-in request it fails until REPRO_AUTHORIZATION / REPRO_COOKIE name a user and
    STRANGLER_IDENTITY_KEY is the proxy's key, and then sends the service that user's signed identity, as the
    proxy does.

    \b
    Examples:
      strangler diffs export 42 --pytest -o tests/test_mismatch_42.py
      REPRO_AUTHORIZATION="Token $TOKEN" STRANGLER_IDENTITY_KEY=... pytest tests/test_mismatch_42.py
      strangler diffs export 42 --curl | sh
    """
    if as_pytest == as_curl:
        raise click.UsageError("choose one of --pytest or --curl")
    record = dc.store.get(mismatch_id)
    text = pytest_file(record) if as_pytest else curl_commands(record)
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise click.UsageError(f"cannot write {output}: {exc}") from exc
    if as_json:
        click.echo(
            json.dumps(
                {
                    "id": mismatch_id,
                    "format": "pytest" if as_pytest else "curl",
                    "output": str(output) if output else None,
                    "text": text,
                },
                indent=2,
            )
        )
    elif output is None:
        click.echo(text, nl=False)
    else:
        click.echo(f"wrote {output}")
