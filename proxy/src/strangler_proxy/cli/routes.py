"""`strangler routes ...`: read and change the route table through the proxy's admin API.

A comparison gate that fired is loud here: `list` marks the route, `history` marks the versions it made and the
firings that moved nothing, and every command that changes a route warns about a firing on it in the last
`RECENT_FIRING_S` seconds (on stderr, `--json` too), so nobody moves a route on without knowing its gate fired.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from strangler_proxy.cli import exit_codes
from strangler_proxy.cli.output import json_option
from strangler_proxy.control.admin_client import DEFAULT_ADMIN_URL, AdminClient, default_author
from strangler_proxy.control.route_changes import GATE_AUTHOR
from strangler_proxy.control.routes_toml import dump_routes_toml, load_routes_file, read_routes_file
from strangler_proxy.control.table_codec import table_from_dict, table_to_dict
from strangler_proxy.dataplane.model import Stage
from strangler_proxy.edge.gateway_api import GatewayOptions, render_httproutes_yaml
from strangler_proxy.edge.nginx_config import NginxOptions, render_nginx
from strangler_proxy.errors import AdminCallFailed, StoreEmpty

RECENT_FIRING_S = 3600.0  # a gate firing younger than this is marked by `list` and warned about by every change


class RoutesContext:
    def __init__(self, admin_url: str, author: str) -> None:
        self.admin_url = admin_url
        self.author = author
        self._client: AdminClient | None = None

    @property
    def client(self) -> AdminClient:
        if self._client is None:
            self._client = AdminClient(self.admin_url, os.environ.get("STRANGLER_ADMIN_TOKEN"), author=self.author)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


class RoutesCommand(click.Command):
    """A `strangler routes` command: its --help ends with the exit codes of the group."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("epilog", exit_codes.epilog(exit_codes.ROUTES_CODES))
        super().__init__(*args, **kwargs)


class RoutesGroup(click.Group):
    command_class = RoutesCommand


@click.group(cls=RoutesGroup, epilog=exit_codes.epilog(exit_codes.ROUTES_CODES))
@click.option(
    "--admin-url",
    envvar="STRANGLER_ADMIN_URL",
    default=DEFAULT_ADMIN_URL,
    show_default=True,
    help="The proxy's admin listener.  [env STRANGLER_ADMIN_URL]",
)
@click.option(
    "--author",
    envvar="STRANGLER_ACTOR",
    default=default_author,
    show_default="user@host",
    help="Who makes the change, for the audit log.  [env STRANGLER_ACTOR]",
)
@click.pass_context
def routes(ctx: click.Context, admin_url: str, author: str) -> None:
    """Read and change the route table through the proxy's admin API.

    Every change is a new version with who, when and why; a change states the version it read, so two
    operators can never overwrite each other (the second gets exit code 2 and re-runs). The token comes
    from STRANGLER_ADMIN_TOKEN.

    \b
    Examples:
      strangler routes list
      strangler routes set /api/catalog --service catalog --stage canary --percent 10 --reason "canary 10%"
      strangler routes apply routes.toml --dry-run
      strangler routes history --limit 5
      strangler routes rollback --to 3 --reason "diff rate above bound"
    """
    routes_ctx = RoutesContext(admin_url, author)
    ctx.obj = routes_ctx
    ctx.call_on_close(routes_ctx.close)


pass_routes = click.make_pass_decorator(RoutesContext)


@routes.command("list")
@json_option
@pass_routes
def routes_list(rc: RoutesContext, as_json: bool) -> None:
    """Show the route table, its upstreams and its version; each route's stage, the data it stands on, and its
    gate if it fired in the last hour (what it saw, and what it did).

    \b
    Examples:
      strangler routes list
      strangler routes list --json | jq '.table.routes[] | {path, stage, percent, data}'
    """
    current = rc.client.routes()
    recent = [f for f in _firings(rc) if f["age_s"] <= RECENT_FIRING_S]
    if as_json:
        click.echo(json.dumps({**current, "gate_firings": recent}, indent=2))
        return
    table = current.get("table")
    if table is None:
        click.echo("the route store is empty (version 0): `strangler routes apply FILE` to create the table")
        return
    click.echo(
        f"route table version {current['version']} (changed {current['changed_at']} by {current['author']}: "
        f"{current['reason']})"
    )
    click.echo("\nupstreams:")
    _columns(
        [["NAME", "URL", ""]]
        + [
            [name, u["url"], "(default)" if name == table["default_upstream"] else ""]
            for name, u in table["upstreams"].items()
        ]
    )
    click.echo("\nroutes:")
    if not table["routes"]:
        click.echo("  none: every request goes to the default upstream")
        return
    latest = {}
    for firing in reversed(recent):  # newest last, so the newest of each route wins
        latest[firing["route"]] = firing
    _columns(
        [["PATH", "METHODS", "SERVICE", "STAGE", "DATA", "STICKY", "CREDENTIALS", "GATE"]]
        + [
            [
                r["path"],
                ",".join(r["methods"]) if r["methods"] else "any",
                r["service"],
                f"canary {r['percent']}%" if r["stage"] == "canary" else r["stage"],
                r.get("data") or "-",
                r["sticky"]["kind"] + (f":{r['sticky']['name']}" if r["sticky"]["name"] else ""),
                "forwarded" if r.get("forward_credentials") else "identity",
                f"FIRED {_ago(latest[r['path']]['age_s'])}" if r["path"] in latest else "-",
            ]
            for r in table["routes"]
        ]
    )
    if recent:
        click.secho("\ngate firings in the last hour (newest first):", fg="red", bold=True)
        for firing in recent:
            click.secho(f"  {_firing_line(firing)}", fg="red")


@routes.command("set")
@click.argument("path")
@click.option("--service", help="Upstream the route moves to (kept from the existing route when omitted).")
@click.option("--stage", type=click.Choice([s.value for s in Stage]), help="off | shadow | canary | live.")
@click.option("--percent", type=int, help="Canary share 0..100 (canary only).")
@click.option("--methods", help="Comma-separated methods this rule is for, e.g. GET,HEAD (default: every method).")
@click.option("--sticky", help="Canary cohort key: client, cookie:NAME or header:NAME.")
@click.option("--mirror-unsafe/--no-mirror-unsafe", default=None, help="Shadow: also mirror unsafe methods.")
@click.option("--pin-seconds", type=float, help="Read-your-writes pin to the monolith after a write.")
@click.option("--data", help="Migration spec whose data backs the route: canary/live wait for it (strangler data).")
@click.option(
    "--upstream-header/--no-upstream-header",
    default=None,
    help="Debugging: answers on this route say which upstream served them (X-Strangler-Upstream).",
)
@click.option(
    "--forward-credentials/--no-forward-credentials",
    default=None,
    help="Pass the client's Authorization and Cookie on to the service (off: it gets only the signed identity).",
)
@click.option("--reason", required=True, help="Why, for the audit log.")
@click.option("--expect-version", type=int, help="Refuse unless the table is still at this version (default: now).")
@json_option
@pass_routes
def routes_set(
    rc: RoutesContext, /, as_json: bool, path: str, reason: str, expect_version: int | None, **fields: Any
) -> None:
    """Create or change the route for PATH (matched by PATH and --methods).

    \b
    Examples:
      strangler routes set /api/catalog --service catalog --stage shadow --reason "start comparing"
      strangler routes set /api/catalog --stage canary --percent 25 --reason "diff rate 0 for a day"
      strangler routes set /api/orders/{id}/reviews --methods GET,HEAD --service reviews --stage live \\
          --reason "reads served by reviews"
      strangler routes set /api/catalog --upstream-header --reason "debugging: say who answered"

    `--stage canary` needs `--percent` (a canary of 0% sends nobody; say so with --percent 0).
    """
    given = {k: v for k, v in fields.items() if v is not None}
    if given.get("stage") == Stage.CANARY.value and "percent" not in given:
        raise click.UsageError("--stage canary needs --percent N (the share of readers the service answers, 0..100)")
    _warn_recent_firing(rc, path)
    if "methods" in given:
        given["methods"] = [m.strip() for m in given["methods"].split(",") if m.strip()]
    expected = expect_version if expect_version is not None else rc.client.version()
    result = rc.client.set_route(path, reason=reason, expected_version=expected, **given)
    _show_commit(result, expected, as_json)


@routes.command("remove")
@click.argument("path")
@click.option("--methods", help="The rule's methods, when it has them (e.g. GET,HEAD).")
@click.option("--reason", required=True, help="Why, for the audit log.")
@json_option
@pass_routes
def routes_remove(rc: RoutesContext, as_json: bool, path: str, methods: str | None, reason: str) -> None:
    """Remove the route for PATH: its requests go back to the default upstream.

    \b
    Examples:
      strangler routes remove /api/catalog --reason "extraction abandoned"
      strangler routes remove /api/orders/{id}/reviews --methods GET,HEAD --reason "reads back on the monolith"
    """
    _warn_recent_firing(rc, path)
    expected = rc.client.version()
    listed = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    _show_commit(
        rc.client.remove_route(path, reason=reason, methods=listed, expected_version=expected), expected, as_json
    )


@routes.command("apply")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Only show what would change.")
@click.option("--reason", help="Why, for the audit log.  [default: apply FILE]")
@json_option
@pass_routes
def routes_apply(rc: RoutesContext, as_json: bool, file: Path, dry_run: bool, reason: str | None) -> None:
    """Make the route table equal FILE (routes as code), like `kubectl apply`.

    Shows the diff against the current version, then applies it as one new version. Whatever FILE does
    not list is removed. Applying the same file again changes nothing and makes no new version.

    \b
    FILE looks like:
      [upstreams.monolith]
      url = "http://127.0.0.1:8000"
      [upstreams.catalog]
      url = "http://127.0.0.1:8001"
      [[routes]]
      path = "/api/catalog"
      service = "catalog"
      stage = "canary"
      percent = 10
    (`strangler routes export > routes.toml` writes the current table in this form.)

    \b
    Examples:
      strangler routes apply routes.toml --dry-run
      strangler routes apply routes.toml --reason "catalog canary 25%"
    """
    data = read_routes_file(file)
    table_from_dict(data)  # fail fast, before any call, with every problem listed
    if not dry_run:
        _warn_recent_firing(rc, None)
    plan = rc.client.plan(data)
    outcome: dict[str, Any] = {
        "dry_run": dry_run,
        "applied": False,
        "previous_version": plan["version"],
        "version": plan["version"],
        "changed": plan["changed"],
        "diff": plan["diff"],
    }
    if plan["changed"] and not dry_run:
        result = rc.client.apply(data, reason=reason or f"apply {file.name}", expected_version=plan["version"])
        outcome.update(applied=result["changed"], version=result["version"], diff=result["diff"])
    if as_json:
        click.echo(json.dumps(outcome, indent=2))
        return
    if not plan["changed"]:
        click.echo(f"no change: version {plan['version']} already matches {file}")
        return
    click.echo(f"diff against version {plan['version']}:")
    _show_diff(outcome["diff"])
    if dry_run:
        click.echo("dry run: nothing applied")
    else:
        click.secho(f"applied: route table version {outcome['version']}", fg="green")


@routes.command("export")
@click.option("--version", "version", type=int, help="Export an earlier version (default: the current one).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["toml", "nginx", "gateway-api"]),
    default="toml",
    show_default=True,
    help="toml: a routes file for `apply`; nginx: an nginx configuration; gateway-api: Kubernetes HTTPRoutes.",
)
@click.option(
    "--from",
    "source",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Render this routes file instead of asking the admin API.",
)
@click.option("--standalone", is_flag=True, help="nginx: a whole nginx.conf (else the text for its http {} block).")
@click.option("--listen", multiple=True, help="nginx: address to listen on (repeatable).  [default 127.0.0.1:8080]")
@click.option("--comparator", "comparator_url", help="nginx: Strangler's mirror listener; shadow routes need it.")
@click.option("--writes-via", "writes_via_url", help="nginx: a Strangler replica for writes on routes with data.")
@click.option("--access-log", help="nginx: write a JSON access log naming route and upstream to this path.")
@click.option("--gateway", multiple=True, help="gateway-api: parent Gateway, NAME or NAMESPACE/NAME (repeatable).")
@click.option("--namespace", help="gateway-api: namespace of the HTTPRoutes and their Services.")
@click.option("--hostname", multiple=True, help="gateway-api: hostnames the HTTPRoutes answer (repeatable).")
@click.option("--comparator-service", help="gateway-api: NAME:PORT of the Service shadow routes mirror to.")
@click.option("--writes-via-service", help="gateway-api: NAME:PORT of a Strangler replica for routes with data.")
@click.option("--mirror-percent", type=click.IntRange(0, 100), default=100, show_default=True, help="gateway-api.")
@json_option
@pass_routes
def routes_export(
    rc: RoutesContext,
    as_json: bool,
    version: int | None,
    fmt: str,
    source: Path | None,
    standalone: bool,
    listen: tuple[str, ...],
    comparator_url: str | None,
    writes_via_url: str | None,
    access_log: str | None,
    gateway: tuple[str, ...],
    namespace: str | None,
    hostname: tuple[str, ...],
    comparator_service: str | None,
    writes_via_service: str | None,
    mirror_percent: int,
) -> None:
    """Print the route table as a routes file (TOML) that `apply` accepts, as an nginx configuration, or as
    Kubernetes Gateway API HTTPRoutes (docs/edge.md says what nginx and Gateway API cannot do).

    \b
    Examples:
      strangler routes export > routes.toml
      strangler routes export --version 3 | diff - routes.toml
      strangler routes export --format nginx --standalone --listen 0.0.0.0:80 \\
          --comparator http://127.0.0.1:8090 --writes-via http://127.0.0.1:8080 > nginx.conf
      strangler routes export --format gateway-api --gateway shop/edge --namespace shop > httproutes.yaml
    """
    if source is not None:
        table = load_routes_file(source)
        version_text = f"{source}"
    else:
        current = rc.client.routes() if version is None else rc.client.table_at(version)
        if current.get("table") is None:
            raise StoreEmpty("the route store is empty (version 0): nothing to export yet")
        table = table_from_dict(current["table"])
        table = replace(table, version=current["version"])
        version_text = f"version {current['version']}"
    if fmt == "nginx":
        options = NginxOptions(
            listen=listen or NginxOptions().listen,
            comparator_url=comparator_url,
            writes_via_url=writes_via_url,
            access_log=access_log,
        )
        click.echo(render_nginx(table, options, standalone=standalone), nl=False)
        return
    if fmt == "gateway-api":
        click.echo(
            render_httproutes_yaml(
                table,
                GatewayOptions(
                    parents=gateway,
                    namespace=namespace,
                    hostnames=hostname,
                    comparator=comparator_service,
                    writes_via=writes_via_service,
                    mirror_percent=mirror_percent,
                ),
            ),
            nl=False,
        )
        return
    if as_json:
        click.echo(json.dumps(table_to_dict(table), indent=2))
        return
    click.echo(f"# {version_text}")
    click.echo(dump_routes_toml(table), nl=False)


@routes.command("history")
@click.option("--limit", type=int, default=20, show_default=True, help="How many versions, newest first.")
@json_option
@pass_routes
def routes_history(rc: RoutesContext, as_json: bool, limit: int) -> None:
    """Show the versions of the route table: who, when, why and what changed. A version a comparison gate made is
    marked GATE; a gate firing that moved nothing (held by the data state, or the route had moved) is listed where
    it happened.

    \b
    Examples:
      strangler routes history
      strangler routes history --limit 5 --json
    """
    history = rc.client.history(limit)
    versions = history["versions"]
    oldest = versions[-1]["created_at"] if versions else ""
    firings = [
        f
        for f in _firings(rc, limit=limit)
        if f["version"] is None and (len(versions) < limit or _when(f["at"]) >= _when(oldest))
    ]
    if as_json:
        click.echo(json.dumps({**history, "gate_firings": firings}, indent=2))
        return
    entries: list[tuple[float, dict[str, Any], bool]] = [(_when(v["created_at"]), v, False) for v in versions]
    entries += [(_when(f["at"]), f, True) for f in firings]
    for _, entry, is_firing in sorted(entries, key=lambda e: e[0], reverse=True):
        if is_firing:
            click.secho(f"GATE FIRED  {entry['at']}  {entry['route']}", fg="red", bold=True)
            click.secho(f"  {_firing_line(entry)}", fg="red")
            continue
        rollback = f"  (rollback to {entry['rollback_of']})" if entry["rollback_of"] else ""
        gate = "  [GATE FIRED]" if entry["author"] == GATE_AUTHOR else ""
        click.secho(
            f"version {entry['version']}  {entry['created_at']}  {entry['author']}{rollback}{gate}",
            bold=True,
            fg="red" if gate else None,
        )
        click.echo(f"  why: {entry['reason']}")
        for line in entry["summary"].splitlines():
            click.echo(f"    {line}")


@routes.command("rollback")
@click.option("--to", "to_version", type=int, help="The version to go back to (default: the one before the current).")
@click.option("--reason", required=True, help="Why, for the audit log.")
@json_option
@pass_routes
def routes_rollback(rc: RoutesContext, as_json: bool, to_version: int | None, reason: str) -> None:
    """Go back to an earlier version. History is kept: the rollback is itself a new version.

    \b
    Examples:
      strangler routes rollback --reason "5xx rate doubled"            # undo the last change
      strangler routes rollback --to 4 --reason "back to shadow"
    """
    _warn_recent_firing(rc, None)
    expected = rc.client.version()
    _show_commit(rc.client.rollback(reason=reason, to_version=to_version, expected_version=expected), expected, as_json)


@routes.group("upstream", cls=RoutesGroup, epilog=exit_codes.epilog(exit_codes.ROUTES_CODES))
def routes_upstream() -> None:
    """Add, change or remove one upstream (the services routes can point at) without a routes file.

    \b
    Examples:
      strangler routes upstream set catalog --url http://10.0.0.7:8001 --reason "catalog service deployed"
      strangler routes upstream set catalog --read-timeout 5 --reason "p99 is 300 ms; fail fast"
      strangler routes upstream remove catalog --reason "extraction abandoned"
    """


@routes_upstream.command("set")
@click.argument("name")
@click.option("--url", help="Base URL, scheme://host:port with no path (required for a new upstream).")
@click.option("--connect-timeout", type=float, help="Seconds to connect.")
@click.option("--read-timeout", type=float, help="Seconds to wait for the response.")
@click.option("--max-connections", type=int, help="Connections kept to it at most.")
@click.option("--max-pending", type=int, help="Requests waiting for a connection at most (then 503).")
@click.option("--health-path", help="Path of its health check, e.g. /healthz.")
@click.option("--reason", required=True, help="Why, for the audit log.")
@json_option
@pass_routes
def routes_upstream_set(rc: RoutesContext, /, as_json: bool, name: str, reason: str, **fields: Any) -> None:
    """Add the upstream NAME or change the fields given.

    \b
    Examples:
      strangler routes upstream set catalog --url http://catalog:8000 --reason "catalog service deployed"
      strangler routes upstream set catalog --max-pending 64 --reason "shed load sooner"
    """
    expected = rc.client.version()
    given = {k: v for k, v in fields.items() if v is not None}
    _show_commit(rc.client.set_upstream(name, reason=reason, expected_version=expected, **given), expected, as_json)


@routes_upstream.command("remove")
@click.argument("name")
@click.option("--reason", required=True, help="Why, for the audit log.")
@json_option
@pass_routes
def routes_upstream_remove(rc: RoutesContext, as_json: bool, name: str, reason: str) -> None:
    """Remove the upstream NAME (refused while a route uses it or it is the default).

    \b
    Examples:
      strangler routes upstream remove catalog --reason "extraction abandoned"
    """
    expected = rc.client.version()
    _show_commit(rc.client.remove_upstream(name, reason=reason, expected_version=expected), expected, as_json)


def _show_commit(result: dict[str, Any], expected: int, as_json: bool) -> None:
    if as_json:
        click.echo(
            json.dumps({k: v for k, v in result.items() if k != "table"} | {"previous_version": expected}, indent=2)
        )
    elif not result["changed"]:
        click.echo(f"no change: version {result['version']} already is that")
    else:
        _show_diff(result["diff"])
        click.secho(f"route table version {result['version']}", fg="green")


def _show_diff(lines: list[str]) -> None:
    colours = {"+": "green", "-": "red", "~": "yellow"}
    for line in lines:
        click.secho(f"  {line}", fg=colours.get(line[:1]))


def _warn_recent_firing(rc: RoutesContext, path: str | None) -> None:
    """Before a change: say (stderr) if the gate of `path` (None: any route) fired in the last RECENT_FIRING_S."""
    for firing in _firings(rc, route=path, limit=5):
        if firing["age_s"] <= RECENT_FIRING_S:
            click.secho(
                f"warning: the gate of {firing['route']} fired {_ago(firing['age_s'])}: {_firing_line(firing)}; "
                "see `strangler routes history`",
                fg="yellow",
                err=True,
            )


def _firings(rc: RoutesContext, *, route: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The gate firings the proxy kept; a proxy from before they were kept has none to show (said on stderr)."""
    try:
        return rc.client.gate_firings(route=route, limit=limit)
    except AdminCallFailed as exc:
        if exc.status != 404:
            raise
        click.secho("note: this proxy keeps no gate firings (GET /gates): upgrade it to see them", err=True)
        return []


def _firing_line(firing: dict[str, Any]) -> str:
    words = {"rolled_back": "rolled back", "held": "HELD", "moved": "nothing to do", "failed": "FAILED"}
    return (
        f"{firing['route']} in {firing['stage']} ({firing['samples']} compared requests, route revision "
        f"{firing['revision']}): {'; '.join(firing['reasons'])} -> {words.get(firing['outcome'], firing['outcome'])}:"
        f" {firing['detail']}"
    )


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def _when(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp() if iso else 0.0


def _columns(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
