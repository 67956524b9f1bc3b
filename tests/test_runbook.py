"""The catalog runbook is run by people under pressure: its commands work as written against a fresh route store,
it cites only files in this repository, and it covers what the first walk-through needed."""

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
RUNBOOK = ROOT / "migration-playbook" / "runbooks" / "catalog.md"
STRANGLER = Path(sys.executable).parent / "strangler"
TOKEN = "runbook-test-admin-token-0123456789abcdef"
READY = re.compile(r"strangler proxy ready: public=(\S+) admin=(\S+)")


def code_block_after(marker: str) -> list[str]:
    """The lines of the first fenced block after `marker` in the runbook."""
    text = RUNBOOK.read_text()
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


def test_the_compose_paths_commands_work_as_written_against_a_fresh_route_store(fresh_proxy: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRANGLER_")}
    env.update(STRANGLER_ADMIN_URL=fresh_proxy, STRANGLER_ADMIN_TOKEN=TOKEN)
    commands = strangler_lines(code_block_after("**Compose")) + strangler_lines(
        code_block_after("## Stickiness behind a load balancer")
    )
    assert len(commands) >= 3
    for command in commands:
        ran = subprocess.run(
            [str(STRANGLER), *command[1:]], env=env, capture_output=True, text=True, timeout=30, check=False
        )
        assert ran.returncode == 0, (command, ran.stdout, ran.stderr)
    listed = subprocess.run(
        [str(STRANGLER), "routes", "list", "--json"], env=env, capture_output=True, text=True, timeout=30, check=True
    )
    table = json.loads(listed.stdout)["table"]
    assert table["upstreams"]["catalog"]["url"] == "http://catalog:8000"
    (route,) = table["routes"]
    assert (route["path"], route["service"], route["data"]) == ("/api/catalog", "catalog", "catalog")


def cited_files(text: str) -> set[str]:
    """Paths the runbook names as files: repository paths, paths inside migration-playbook/, and bare *.md names."""
    tokens = set(re.findall(r"(?<![\w./$-])[\w][\w./-]*\.(?:md|py|toml|yaml|yml|sh|json)\b", text))
    return {t for t in tokens if "/" in t or t.endswith(".md")}


def test_the_runbook_cites_only_files_in_this_repository() -> None:
    text = RUNBOOK.read_text()
    cited = cited_files(text)
    assert "migration-playbook/specs/catalog.toml" in cited and "docs/architecture.md" in cited
    missing = [
        path
        for path in sorted(cited)
        if not (ROOT / path).exists() and not (ROOT / "migration-playbook" / path).exists()
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
