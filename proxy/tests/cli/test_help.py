"""Every `strangler` command teaches: its --help has examples and lists its exit codes (all groups, plugins too)."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from strangler_proxy.cli.main import cli, load_plugins


def commands() -> Iterator[tuple[str, click.Command, click.Context]]:
    load_plugins(cli)

    def walk(
        command: click.Command, parent: click.Context | None, name: str
    ) -> Iterator[tuple[str, click.Command, click.Context]]:
        ctx = click.Context(command, info_name=name, parent=parent)
        yield ctx.command_path, command, ctx
        if isinstance(command, click.Group):
            for sub in command.list_commands(ctx):
                child = command.get_command(ctx, sub)
                if child is not None and not child.hidden:
                    yield from walk(child, ctx, sub)

    yield from walk(cli, None, "strangler")


def test_every_command_is_found_including_the_plugin_groups() -> None:
    names = {path for path, _, _ in commands()}
    assert {"strangler routes set", "strangler data verify", "strangler diffs export", "strangler replay"} <= names


@pytest.mark.parametrize("path", sorted(path for path, _, _ in commands()))
def test_its_help_has_examples_and_its_exit_codes(path: str) -> None:
    command, ctx = next((c, x) for p, c, x in commands() if p == path)
    text = command.get_help(ctx)
    assert "Examples:" in text or "Example:" in text, text
    assert "Exit codes:" in text and "  0  ok" in text, text
