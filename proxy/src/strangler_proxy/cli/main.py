"""`strangler`: one command line for the whole toolkit — the root group, `strangler proxy`, and the plugin groups.

Other parts add groups via the entry-point group `strangler.commands` (e.g. `data = "strangler_playbook.cli:data"`;
this distribution's own `diffs` and `replay` come the same way); a plugin that fails to import is skipped with a
warning so the rest of the CLI keeps working. Every group exits with the codes of `exit_codes.py`.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from strangler_proxy.cli import exit_codes
from strangler_proxy.cli.nginx import nginx
from strangler_proxy.cli.routes import routes
from strangler_proxy.errors import StranglerError

PLUGIN_GROUP = "strangler.commands"


class PluginGroup(click.Group):
    """Loads the `strangler.commands` plugins only when a name is not built in (or for --help): importing
    another part's CLI costs it its start-up time, which `strangler routes ...` should not pay."""

    plugins_loaded = False

    def _load_plugins(self) -> None:
        if not self.plugins_loaded:
            self.plugins_loaded = True
            load_plugins(self)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self._load_plugins()
            command = super().get_command(ctx, cmd_name)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugins()
        return super().list_commands(ctx)


@click.group(
    cls=PluginGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    epilog=exit_codes.epilog(),
)
@click.version_option(package_name="strangler-proxy", prog_name="strangler")
def cli() -> None:
    """Strangler moves a live monolith to services, one route at a time.

    \b
    Examples:
    Run the proxy in front of the monolith:
      STRANGLER_ADMIN_TOKEN=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))') \\
      STRANGLER_MONOLITH_URL=http://127.0.0.1:8000 strangler proxy
    Then move a path, step by step, each step audited:
      strangler routes apply routes.toml --dry-run     # see what would change
      strangler routes apply routes.toml               # declare the catalog upstream and routes
      strangler routes set /api/catalog --service catalog --stage shadow --reason "compare responses"
      strangler routes set /api/catalog --stage canary --percent 10 --reason "10% of readers"
      strangler routes rollback --reason "error rate up"
    """


# --- strangler proxy --------------------------------------------------------------------------------------------


@cli.command(epilog=exit_codes.epilog(exit_codes.PROXY_CODES))
@click.option("--listen", help="Public listener HOST:PORT.  [env STRANGLER_LISTEN; default 127.0.0.1:8080]")
@click.option(
    "--admin-listen", help="Admin API listener HOST:PORT.  [env STRANGLER_ADMIN_LISTEN; default 127.0.0.1:8081]"
)
@click.option(
    "--mirror-listen",
    help="Listener for nginx's (or a Gateway's) shadow mirrors, compared like the proxy's own.  "
    "[env STRANGLER_MIRROR_LISTEN; default: none]",
)
@click.option(
    "--route-store",
    help="SQLite file or postgresql:// URL (share one PostgreSQL store between replicas).  "
    "[env STRANGLER_ROUTE_STORE; default ./strangler-routes.sqlite3]",
)
@click.option(
    "--monolith-url", help="Seeds the `monolith` upstream when the store is empty.  [env STRANGLER_MONOLITH_URL]"
)
@click.option(
    "--admin-insecure-dev",
    is_flag=True,
    default=None,
    help="Development only: allow a missing or short admin token when the admin listener is on loopback.  "
    "[env STRANGLER_ADMIN_INSECURE_DEV]",
)
@click.option(
    "--console-secure-cookie",
    is_flag=True,
    default=None,
    help="Mark the console's session cookie Secure on every request (set it when a TLS-terminating proxy in front "
    "does not send X-Forwarded-Proto: https).  [env STRANGLER_CONSOLE_SECURE_COOKIE]",
)
@click.option(
    "--workers",
    type=int,
    help="Replica processes sharing the ports (SO_REUSEPORT); more than 1 needs a PostgreSQL route store.  "
    "[env STRANGLER_WORKERS; default 1]",
)
@click.option("--store-poll", type=float, help="Seconds between store polls.  [env STRANGLER_STORE_POLL; default 2]")
@click.option("--log-level", help="debug, info, warning or error.  [env STRANGLER_LOG_LEVEL; default info]")
def proxy(**options: Any) -> None:
    """Run the routing proxy: the public listener and the admin API on its own listener.

    The admin token is read from STRANGLER_ADMIN_TOKEN only (a flag would show in `ps`); it must be at least 32
    characters. Data-plane settings (trusted proxies, retries, shadow pool, ...) are STRANGLER_* variables too.

    \b
    Examples:
      STRANGLER_ADMIN_TOKEN=... strangler proxy --monolith-url http://127.0.0.1:8000
      STRANGLER_ADMIN_TOKEN=... strangler proxy --listen 0.0.0.0:8080 \\
          --route-store postgresql://strangler@db/strangler      # several replicas, one shared store
      STRANGLER_ADMIN_TOKEN=... strangler proxy --workers 2 --route-store postgresql://strangler@db/strangler
      strangler proxy --admin-insecure-dev --monolith-url http://127.0.0.1:8000   # laptop only
    """
    from strangler_proxy.console import attach_console  # the data plane is only imported when serving
    from strangler_proxy.control.runtime import run

    try:
        run(admin_extensions=[attach_console], **{key: value for key, value in options.items() if value is not None})
    except StranglerError as exc:  # a setting, the route store, a stored table: said plainly, no traceback
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(exit_codes.exit_code_for(exc))


cli.add_command(routes)
cli.add_command(nginx)


# --- entry point ------------------------------------------------------------------------------------------------


def load_plugins(group: click.Group) -> None:
    """Add the command groups other parts register under the `strangler.commands` entry-point group."""
    from importlib.metadata import entry_points  # ~70 ms: only paid when a plugin may be needed

    for ep in entry_points(group=PLUGIN_GROUP):
        if ep.name in group.commands:
            continue
        try:
            command = ep.load()
        except Exception as exc:  # a broken plugin must not take the rest of the CLI down
            click.secho(
                f"warning: skipping `strangler {ep.name}`: {ep.value} failed to import ({type(exc).__name__}: {exc})",
                fg="yellow",
                err=True,
            )
            continue
        if not isinstance(command, click.Command):
            click.secho(f"warning: skipping `strangler {ep.name}`: {ep.value} is not a click command", err=True)
            continue
        group.add_command(command, name=ep.name)


def main() -> None:
    try:
        code = cli.main(prog_name="strangler", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        sys.exit(exit_codes.OK)
    except click.UsageError as exc:
        exc.show()
        sys.exit(exit_codes.INVALID)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exit_codes.INVALID)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(exit_codes.INVALID)
    sys.exit(code if isinstance(code, int) else exit_codes.OK)
