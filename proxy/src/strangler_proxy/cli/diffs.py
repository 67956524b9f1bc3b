"""`strangler diffs`: read the mismatches the comparator stored, and turn one into a test or a curl command.

Reads the mismatch table in the route store's database directly (`--route-store` / STRANGLER_ROUTE_STORE, the
same value `strangler proxy` uses), so it works while the proxy is down too.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import click

from strangler_proxy.cli import exit_codes
from strangler_proxy.cli.output import json_option
from strangler_proxy.compare.mismatch_store import MismatchStore, open_mismatch_store
from strangler_proxy.compare.redact import REDACTED
from strangler_proxy.errors import StoreUnavailable

DEFAULT_STORE = "./strangler-routes.sqlite3"
NOT_SENT = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive", "x-strangler-shadow"})


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


def _sent_headers(record: dict[str, Any]) -> list[tuple[str, str]]:
    return [(n, v) for n, v in record["request"]["headers"] if n.lower() not in NOT_SENT and REDACTED not in v]


def curl_commands(record: dict[str, Any]) -> str:
    request = record["request"]
    lines = [f"# mismatch {record['id']} on {record['route']}: {', '.join(record.get('net_fields', []))}"]
    for side, label in (("expected", "monolith"), ("actual", "service")):
        parts = ["curl", "-sS", "-i", "-X", request["method"]]
        for name, value in _sent_headers(record):
            parts += ["-H", f"{name}: {value}"]
        if request["body"]:
            parts += ["--data-binary", request["body"]]
        parts.append(record["upstreams"][side] + request["target"])
        lines.append(f"# {label}")
        lines.append(" ".join(shlex.quote(p) for p in parts))
    return "\n".join(lines) + "\n"


PYTEST_TEMPLATE = '''"""Reproduces mismatch {id} stored by Strangler's comparator on route {route} ({created_at}).

The monolith and the service answered this request differently on: {fields}.
Run: MONOLITH_URL=... SERVICE_URL=... pytest {{this file}}; it fails while the difference remains.
{credentials_note}
"""

import os

import httpx
import pytest
from strangler_proxy.compare.normalise import context_for
from strangler_proxy.compare.response_diff import compare_responses
from strangler_proxy.dataplane.identity import IdentitySigner, User, with_identity
from strangler_proxy.dataplane.model import CompareSettings
from strangler_proxy.dataplane.shadow import CapturedResponse

MONOLITH_URL = os.environ.get("MONOLITH_URL", {monolith!r})
SERVICE_URL = os.environ.get("SERVICE_URL", {service!r})
SERVICE_NAME = os.environ.get("SERVICE_NAME", {service_name!r})  # the identity's audience: the route's upstream
FORWARD_CREDENTIALS = {forward_credentials!r}  # the route passes the client's credentials on to the service
METHOD = {method!r}
TARGET = {target!r}
HEADERS = {headers!r}
BODY = {body!r}
SIGNED_IN = {signed_in!r}  # the recorded request carried credentials (redacted when it was stored)
SETTINGS = CompareSettings(ignore={ignore!r}, headers={compared!r})
RECORDED_DIFFERENCES = {diffs!r}


def credentials() -> list[tuple[str, str]]:
    given = [
        (name, os.environ[variable])
        for variable, name in (("REPRO_AUTHORIZATION", "authorization"), ("REPRO_COOKIE", "cookie"))
        if os.environ.get(variable)
    ]
    if SIGNED_IN and not given:
        pytest.fail(
            "the recorded request was signed in and its credentials were redacted: set REPRO_AUTHORIZATION "
            "(e.g. 'Token ...') or REPRO_COOKIE to a user's, and STRANGLER_IDENTITY_KEY to the proxy's, so that "
            "both sides answer that user as they did; without them this test would compare anonymous answers"
        )
    return given


def service_headers(given: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """What the proxy sends the service for these credentials: the monolith says who they name (forward auth, as
    docs/identity.md describes), the identity is signed with the proxy's key for the service, and the credentials
    themselves are withheld unless the route forwards them."""
    if not given:
        return []
    if not SERVICE_NAME:
        pytest.fail("set SERVICE_NAME to the route's upstream (the audience the service accepts identities for)")
    key = os.environ.get("STRANGLER_IDENTITY_KEY")
    if not key:
        pytest.fail("set STRANGLER_IDENTITY_KEY to the proxy's: the service trusts only identities the proxy signs")
    asked = httpx.get(
        MONOLITH_URL + "/internal/identity/",
        headers=[*given, ("x-original-method", METHOD), ("x-original-uri", TARGET)],
        timeout=10,
    )
    assert asked.status_code == 200, f"the monolith refused these credentials ({{asked.status_code}}): {{asked.text}}"
    user = asked.json()["user"]
    if user is None:
        pytest.fail("the credentials given name nobody (the monolith answered user: null)")
    signed = with_identity(
        [(name.encode(), value.encode()) for name, value in given],
        IdentitySigner(key),
        User(user["id"], user["username"], user["is_staff"]),
        audience=SERVICE_NAME,
        forward_credentials=FORWARD_CREDENTIALS,
    )
    return [(name.decode(), value.decode()) for name, value in signed]


def send(base: str, extra: list[tuple[str, str]]) -> CapturedResponse:
    response = httpx.request(METHOD, base + TARGET, headers=[*HEADERS, *extra], content=BODY or None, timeout=10)
    return CapturedResponse(response.status_code, list(response.headers.raw), response.content, False, 0.0)


def test_the_service_answers_like_the_monolith() -> None:
    given = credentials()
    expected = send(MONOLITH_URL, given)
    actual = send(SERVICE_URL, service_headers(given))
    ctx = context_for([(n.encode(), v.encode()) for n, v in HEADERS], MONOLITH_URL, SERVICE_URL)
    diffs = compare_responses(expected, actual, settings=SETTINGS, ctx=ctx).diffs
    assert [(d.path, d.expected, d.actual) for d in diffs] == [], "still differs (recorded: %s)" % RECORDED_DIFFERENCES
'''

CREDENTIALS_NOTE = {
    True: "The request was signed in; its credentials were redacted when the mismatch was stored: set\n"
    "REPRO_AUTHORIZATION / REPRO_COOKIE to a user's and STRANGLER_IDENTITY_KEY to the proxy's\n"
    "(the test fails without them).",
    False: "The request carried no credentials; REPRO_AUTHORIZATION / REPRO_COOKIE send some to try as a user.",
}


def pytest_file(record: dict[str, Any]) -> str:
    net = set(record.get("net_fields", []))
    settings = record.get("settings", {})
    noise = tuple(sorted({d["field"] for d in record["diffs"] if d["field"] not in net and d["field"].startswith("$")}))
    signed_in = any(n.lower() in ("authorization", "cookie") and REDACTED in v for n, v in record["request"]["headers"])
    return PYTEST_TEMPLATE.format(
        id=record["id"],
        signed_in=signed_in,
        credentials_note=CREDENTIALS_NOTE[signed_in],
        route=record["route"],
        created_at=record["created_at"],
        fields=", ".join(sorted(net)) or "(see RECORDED_DIFFERENCES)",
        monolith=record["upstreams"]["expected"],
        service=record["upstreams"]["actual"],
        service_name=record["upstreams"].get("service_name", ""),
        forward_credentials=bool(record["upstreams"].get("forward_credentials", False)),
        method=record["request"]["method"],
        target=record["request"]["target"],
        headers=_sent_headers(record),
        body=record["request"]["body"].encode(),
        # fields the proxy had learned as noise are ignored here too, so the test fails on real differences only
        ignore=tuple(settings.get("ignore", [])) + noise,
        compared=tuple(settings.get("headers", ["content-type"])),
        diffs=[(d["path"], d["expected"], d["actual"]) for d in record["diffs"] if d["field"] in net],
    )
