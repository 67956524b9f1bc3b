"""The `strangler data` group: its help, and every command registered on it (the data phases, then the handover)."""

from __future__ import annotations

import click

from strangler_playbook.cli import handover_commands, phase_commands
from strangler_playbook.cli.options import DataGroup
from strangler_playbook.errors import EXIT_CODES_HELP


@click.group(cls=DataGroup, context_settings={"auto_envvar_prefix": "STRANGLER_DATA"}, epilog=EXIT_CODES_HELP)
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


for command in (*phase_commands.COMMANDS, *handover_commands.COMMANDS):
    data.add_command(command)
