"""The `strangler data` group: its help, and every command registered on it (the data phases, then the handover).

The handover commands are imported only when one of them runs (or for the group's --help): they bring the proxy's
admin client (httpx, asyncio), which a data phase never uses. The data phases import their engine modules inside
their bodies for the same reason, so `strangler data backfill` starts without the verify, sync or handover code.
"""

from __future__ import annotations

import importlib

import click

from strangler_playbook.cli import phase_commands
from strangler_playbook.cli.options import DataGroup
from strangler_playbook.errors import EXIT_CODES_HELP

# Command name → the module defining it (its `COMMANDS`), imported on first use; tests/cli checks the names.
LAZY_COMMANDS = dict.fromkeys(
    ("cutover", "rollback", "publish", "follow", "retire"), "strangler_playbook.cli.handover_commands"
)


class LazyDataGroup(DataGroup):
    """A DataGroup whose `LAZY_COMMANDS` are listed by name and imported only when asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.commands, *(name for name in LAZY_COMMANDS if name not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            module = importlib.import_module(LAZY_COMMANDS[cmd_name])
            for command in module.COMMANDS:
                self.add_command(command)
        return self.commands.get(cmd_name)


@click.group(cls=LazyDataGroup, context_settings={"auto_envvar_prefix": "STRANGLER_DATA"}, epilog=EXIT_CODES_HELP)
def data() -> None:
    """Move an extraction's data: plan → backfill → sync → verify → cutover, with status at any time.

    SPEC is the extraction's TOML spec (tables, column maps, filters, routes). Database URLs are
    postgresql://user@host:port/db, sqlite:////absolute/path.db or a plain SQLite file path; pass them
    with --source/--target or set the environment variables the spec names.

    Every option is also an environment variable: STRANGLER_DATA_<COMMAND>_<OPTION>, e.g.
    STRANGLER_DATA_SYNC_POLL=0.2.

    \b
    Examples:
      strangler data plan specs/catalog.toml
      strangler data verify specs/catalog.toml && strangler data publish specs/catalog.toml
      strangler data cutover specs/catalog.toml
    """


for command in phase_commands.COMMANDS:
    data.add_command(command)
