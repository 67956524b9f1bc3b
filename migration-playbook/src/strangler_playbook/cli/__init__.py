"""`strangler data …`: a thin click layer that reads the settings, calls the engine, prints its results and turns
its errors into the shared exit codes. The `data` group is the `strangler.commands` entry point."""

from strangler_playbook.cli.group import data

__all__ = ["data"]
