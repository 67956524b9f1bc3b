"""The service's copy of the catalog, made by the migration engine (`strangler_playbook`, migration-playbook/)
with the spec next to this file: backfill, then verify, as an operator would; sync for later monolith writes.

The engine leaves sequences alone until cutover; a parity run needs the next object to get the same id on both
sides from the start, so sequences are realigned here after each move (as cutover does at a flip)."""

from __future__ import annotations

import json
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg

from processes import ROOT, run

SPEC = Path(__file__).with_name("catalog.spec.toml")
TABLES = ("catalog_category", "catalog_product")


def playbook(command: str, source_url: str, target_url: str) -> dict[str, Any]:
    args = [sys.executable, "-m", "strangler_playbook", command, str(SPEC), "--source", source_url]
    printed = run([*args, "--target", target_url, "--json"], cwd=ROOT / "migration-playbook", env={})
    return json.loads(printed)


def backfill(source_url: str, target_url: str) -> None:
    playbook("backfill", source_url, target_url)
    verified = playbook("verify", source_url, target_url)
    assert all(table["clean"] for table in verified["tables"]), verified
    align_sequences(source_url, target_url)


def sync(source_url: str, target_url: str) -> dict[str, Any]:
    applied = playbook("sync", source_url, target_url)
    align_sequences(source_url, target_url)
    return applied


def align_sequences(source_url: str, target_url: str, tables: tuple[str, ...] = TABLES) -> None:
    """Give each target table's id sequence the source's position."""
    if source_url.startswith("sqlite:///"):
        source = sqlite3.connect(source_url.removeprefix("sqlite:///"))
        target = sqlite3.connect(target_url.removeprefix("sqlite:///"))
        with closing(source), closing(target), target:
            for table in tables:
                row = source.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
                target.execute("DELETE FROM sqlite_sequence WHERE name = ?", (table,))
                if row is not None:
                    target.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, row[0]))
        return
    with psycopg.connect(source_url) as source, psycopg.connect(target_url) as target:
        for table in tables:
            sequence = source.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,)).fetchone()[0]
            last_value, is_called = source.execute(f"SELECT last_value, is_called FROM {sequence}").fetchone()  # noqa: S608
            target.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, %s)", (table, last_value, is_called))
