"""The runbooks are run by people under pressure: their commands work as written against a fresh route store, they
cite only files in this repository, and they cover what the walk-throughs needed (the catalog's first; inventory's,
whose orders are held with it)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNBOOKS = ROOT / "migration-playbook" / "runbooks"
RUNBOOK = RUNBOOKS / "catalog.md"
INVENTORY = RUNBOOKS / "inventory.md"
STRANGLER = Path(sys.executable).parent / "strangler"
TOKEN = "runbook-test-admin-token-0123456789abcdef"
READY = re.compile(r"strangler proxy ready: public=(\S+) admin=(\S+)")


def code_block_after(marker: str, runbook: Path = RUNBOOK) -> list[str]:
    """The lines of the first fenced block after `marker` in the runbook."""
    text = runbook.read_text()
    start = text.index("```", text.index(marker))
    body = text[text.index("\n", start) + 1 : text.index("```", start + 3)]
    return [line for line in body.splitlines() if line.strip()]


def strangler_lines(lines: list[str]) -> list[list[str]]:
    return [shlex.split(line, comments=True) for line in lines if line.startswith("strangler routes ")]


@pytest.fixture
def fresh_proxy(tmp_path: Path) -> Iterator[str]:
    """`strangler proxy` on an empty route store, seeded (as compose's is) with the monolith only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRANGLER_")}
    env.update(
        STRANGLER_LISTEN="127.0.0.1:0",
        STRANGLER_ADMIN_LISTEN="127.0.0.1:0",
        STRANGLER_ADMIN_TOKEN=TOKEN,
        STRANGLER_IDENTITY_KEY="runbook-test-identity-key-0123456789abcdef",
        STRANGLER_ROUTE_STORE=str(tmp_path / "routes.sqlite3"),
        STRANGLER_MONOLITH_URL="http://monolith:8000",
    )
    process = subprocess.Popen([STRANGLER, "proxy"], env=env, stderr=subprocess.PIPE, text=True)
    ready: list[str] = []
    seen = threading.Event()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            if match := READY.search(line):
                ready.append(match.group(2))
                seen.set()
        seen.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        assert seen.wait(30) and ready, "strangler proxy did not start"
        yield ready[0]
    finally:
        process.terminate()
        process.wait(15)


def run_strangler_lines(commands: list[list[str]], admin_url: str) -> dict:
    """Run each `strangler routes …` line as written; the route table afterwards."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRANGLER_")}
    env.update(STRANGLER_ADMIN_URL=admin_url, STRANGLER_ADMIN_TOKEN=TOKEN)
    for command in commands:
        ran = subprocess.run(
            [str(STRANGLER), *command[1:]], env=env, capture_output=True, text=True, timeout=30, check=False
        )
        assert ran.returncode == 0, (command, ran.stdout, ran.stderr)
    listed = subprocess.run(
        [str(STRANGLER), "routes", "list", "--json"], env=env, capture_output=True, text=True, timeout=30, check=True
    )
    return json.loads(listed.stdout)["table"]


def test_the_compose_paths_commands_work_as_written_against_a_fresh_route_store(fresh_proxy: str) -> None:
    commands = strangler_lines(code_block_after("**Compose")) + strangler_lines(
        code_block_after("## Stickiness behind a load balancer")
    )
    assert len(commands) >= 3
    table = run_strangler_lines(commands, fresh_proxy)
    assert table["upstreams"]["catalog"]["url"] == "http://catalog:8000"
    (route,) = table["routes"]
    assert (route["path"], route["service"], route["data"]) == ("/api/catalog", "catalog", "catalog")


def test_the_inventory_compose_commands_work_as_written_against_a_fresh_route_store(fresh_proxy: str) -> None:
    commands = strangler_lines(code_block_after("**Compose", INVENTORY))
    assert len(commands) == 2
    table = run_strangler_lines(commands, fresh_proxy)
    assert table["upstreams"]["inventory"]["url"] == "http://inventory:8000"
    (route,) = table["routes"]  # /api/orders needs none: the proxy holds any path
    assert (route["path"], route["service"], route["stage"], route["data"]) == (
        "/api/inventory",
        "inventory",
        "off",
        "inventory",
    )


def cited_files(text: str) -> set[str]:
    """Paths the runbook names as files: repository paths, paths inside migration-playbook/, and bare *.md names."""
    tokens = set(re.findall(r"(?<![\w./$-])[\w][\w./-]*\.(?:md|py|toml|yaml|yml|sh|json)\b", text))
    return {t for t in tokens if "/" in t or t.endswith(".md")}


@pytest.mark.parametrize(
    ("runbook", "named"),
    [
        (RUNBOOK, ["migration-playbook/specs/catalog.toml", "docs/architecture.md"]),
        (INVENTORY, ["migration-playbook/specs/inventory.toml", "e2e/test_inventory_walk.py", "catalog.md"]),
    ],
)
def test_the_runbook_cites_only_files_in_this_repository(runbook: Path, named: list[str]) -> None:
    text = runbook.read_text()
    cited = cited_files(text)
    assert set(named) <= cited
    missing = [
        path
        for path in sorted(cited)
        if not (ROOT / path).exists()
        and not (ROOT / "migration-playbook" / path).exists()
        and not (RUNBOOKS / path).exists()
    ]
    assert missing == []


def test_the_runbook_covers_the_gate_verify_under_load_stickiness_and_postgresql() -> None:
    text = RUNBOOK.read_text()
    for heading in ("## The comparison gate", "## Verify under load", "## Stickiness behind a load balancer"):
        assert heading in text
    for words in (
        "strangler data repair $SPEC",
        "--settle",
        "--sticky header:",
        "STRANGLER_TRUSTED_PROXIES",
        "MONOLITH_DATABASE_URL",
        "CATALOG_DATABASE_URL",
        "STRANGLER_ROUTE_STORE=postgresql://",
        "session_replication_role",
        "strangler_compare_gate_firings_total",
        "X-Request-Id",
    ):
        assert words in text, words


def test_the_inventory_runbook_holds_orders_and_covers_the_saga_and_the_seam() -> None:
    text = INVENTORY.read_text()
    for heading in ("## Before you start", "## Why orders are held", "## Steps", "## Abort criteria", "## Rollback"):
        assert heading in text, heading
    for words in (
        'hold_routes = ["/api/orders"]',
        "holding writes to /api/inventory, /api/orders",
        "orders_stockhold",
        "recover_stock_holds",
        "_strangler_data_owner",
        "INVENTORY_SERVICE_URL",
        "INVENTORY_DATABASE_URL",
        "STRANGLER_IDENTITY_KEY",
        "strangler data rollback $SPEC",
        "strangler data verify --reverse $SPEC",
    ):
        assert words in text, words
    # What the runbook tells the operator to check is what the spec says.
    assert 'hold_routes = ["/api/orders"]' in (ROOT / "migration-playbook" / "specs" / "inventory.toml").read_text()
