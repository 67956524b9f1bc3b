"""`strangler nginx sync`: nginx as the data plane, kept on the route store's newest table."""

from __future__ import annotations

import json
import signal
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from strangler_proxy.cli import exit_codes
from strangler_proxy.cli.output import json_option
from strangler_proxy.edge.nginx_config import NginxOptions
from strangler_proxy.edge.nginx_control import find_nginx
from strangler_proxy.edge.nginx_sync import NginxSync, SyncOutcome

NGINX_CODES = (exit_codes.OK, exit_codes.INVALID, exit_codes.UNREACHABLE)


@click.group(epilog=exit_codes.epilog(NGINX_CODES))
def nginx() -> None:
    """Drive nginx from the route table (docs/edge.md: what nginx does, and what a Strangler replica does for it).

    \b
    Examples:
      strangler nginx sync --conf /srv/edge/nginx.conf --prefix /srv/edge --listen 0.0.0.0:80 \\
          --comparator http://127.0.0.1:8090 --writes-via http://127.0.0.1:8080
      nginx -p /srv/edge -c /srv/edge/nginx.conf      # nginx itself, started once
    """


@nginx.command(epilog=exit_codes.epilog(NGINX_CODES))
@click.option(
    "--route-store",
    envvar="STRANGLER_ROUTE_STORE",
    required=True,
    help="SQLite file or postgresql:// URL of the route store.  [env STRANGLER_ROUTE_STORE]",
)
@click.option("--conf", type=click.Path(dir_okay=False, path_type=Path), required=True, help="nginx.conf to keep.")
@click.option(
    "--prefix",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="nginx's prefix (-p): pid file, error log and temporary files.",
)
@click.option("--nginx", "nginx_path", help="The nginx binary.  [default: nginx on PATH, else /usr/sbin/nginx]")
@click.option("--state-file", type=click.Path(dir_okay=False, path_type=Path), help="JSON: last outcome, for alerts.")
@click.option("--listen", multiple=True, help="Address nginx listens on (repeatable).  [default 127.0.0.1:8080]")
@click.option("--comparator", "comparator_url", help="Strangler's mirror listener; shadow routes need it.")
@click.option("--writes-via", "writes_via_url", help="A Strangler replica for writes on routes with data.")
@click.option("--access-log", help="Write a JSON access log naming route and upstream to this path.")
@click.option("--status-listen", help="A listener answering GET /strangler/version (the version nginx serves).")
@click.option("--workers", default="auto", show_default=True, help="nginx worker_processes.")
@click.option("--poll", type=float, default=2.0, show_default=True, help="Seconds between store polls.")
@click.option("--once", is_flag=True, help="Install the newest version and exit (exit 1 when it was refused).")
@json_option
def sync(
    as_json: bool,
    route_store: str,
    conf: Path,
    prefix: Path,
    nginx_path: str | None,
    state_file: Path | None,
    poll: float,
    once: bool,
    workers: str,
    **fields: Any,
) -> None:
    """Follow the route store: render each new version, test it with `nginx -t`, install it and reload nginx
    gracefully. A version nginx refuses is not installed: nginx keeps the last good configuration, and the refusal
    is printed on stderr (and written to --state-file) until a good version comes.

    \b
    Examples:
      strangler nginx sync --conf edge/nginx.conf --prefix edge --once        # write the first configuration
      nginx -p edge -c "$PWD/edge/nginx.conf"                                 # start nginx on it
      strangler nginx sync --conf edge/nginx.conf --prefix edge --state-file edge/sync.json   # then follow
    """
    listen = fields.pop("listen") or NginxOptions().listen
    options = NginxOptions(listen=tuple(listen), worker_processes=workers, **fields)
    syncer = NginxSync(
        options, conf=conf.absolute(), prefix=prefix.absolute(), nginx=find_nginx(nginx_path), state_file=state_file
    )
    failed = threading.Event()

    def report(outcome: SyncOutcome) -> None:
        if as_json:
            click.echo(json.dumps(asdict(outcome)))
        if outcome.installed:
            failed.clear()
            if not as_json:
                click.echo(outcome.line())
            return
        click.secho(outcome.line(), fg="red", bold=True, err=True)
        failed.set()

    stop = threading.Event()
    if once:
        stop.set()
    else:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    syncer.follow(route_store, poll=poll, on_outcome=report, stop=stop)
    if once and failed.is_set():
        sys.exit(exit_codes.INVALID)
