"""`make demo` (tools/demo.py). The walk it narrates is the one tests/test_walk_under_load.py runs under load on a
real stack; a whole demo adds a minute or more to `make test`, so here its own pieces run against a real server
standing in for the proxy (the sticky readers, counting sides and failures) and on SQLite files (the drift), and
the whole demo only with STRANGLER_TEST_DEMO=1 (it must then reach its summary and exit 0)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from demo import StickyClients, drift  # noqa: E402


@pytest.fixture
def proxy_double() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """Answers like the proxy on a canary route: the client named by X-Demo-Client decides the side; client-3's
    reads fail with a 503. Every (method, path) it was sent is recorded."""
    seen: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            seen.append((self.command, self.path))
            client = self.headers.get("x-demo-client", "")
            status = 503 if client == "client-3" else 200
            body = json.dumps({"id": 1}).encode()
            self.send_response(status)
            self.send_header("X-Strangler-Upstream", "catalog" if client == "client-2" else "monolith")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PATCH = answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_sticky_readers_say_which_side_answered_each_of_them_at_each_step_and_count_failures(
    proxy_double: tuple[str, list[tuple[str, str]]],
) -> None:
    host, _ = proxy_double
    clients = StickyClients(host, [7, 8], count=3, step="canary 10%")
    threads = clients.start()
    answered = threading.Event()
    while not all(sum(clients.seen.get(f"client-{i}", {}).get("canary 10%", {}).values()) >= 2 for i in (1, 2)):
        answered.wait(0.05)
    clients.stop.set()
    for thread in threads:
        thread.join(10)
    table = clients.table(["canary 10%", "live"])
    assert table[0].startswith("  client-1  canary 10%: monolith ") and table[0].endswith(" | live: -")
    assert table[1].startswith("  client-2  canary 10%: catalog ")
    assert clients.failures >= 1  # client-3 got 503s: counted, never shown as a side
    assert not any(line.startswith("  client-3") for line in table)


def test_drift_changes_one_price_in_the_services_database_only(tmp_path: Path) -> None:
    for name in ("catalog.sqlite3", "monolith.sqlite3"):
        with closing(sqlite3.connect(tmp_path / name)) as db, db:
            db.execute("CREATE TABLE catalog_product (id INTEGER PRIMARY KEY, price DECIMAL)")
            db.executemany("INSERT INTO catalog_product VALUES (?, ?)", [(1, "49.00"), (2, "12.50")])
    drift(tmp_path, 2)
    prices = {}
    for name in ("catalog.sqlite3", "monolith.sqlite3"):
        with closing(sqlite3.connect(tmp_path / name)) as db:
            prices[name] = db.execute("SELECT id, price FROM catalog_product ORDER BY id").fetchall()
    assert prices == {"catalog.sqlite3": [(1, 49), (2, 1.23)], "monolith.sqlite3": [(1, 49), (2, 12.5)]}


def test_make_demo_runs_the_demo_script() -> None:
    dry = subprocess.run(["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "tools/demo.py" in dry.stdout


@pytest.mark.skipif(not os.environ.get("STRANGLER_TEST_DEMO"), reason="the whole demo (2-4 min): STRANGLER_TEST_DEMO=1")
def test_the_whole_demo_reaches_its_summary_with_no_failure_and_a_clean_verify() -> None:
    ran = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "demo.py")],
        env={**os.environ, "DEMO_PAUSE": "1", "DEMO_RATE": "30"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    for step in ("off", "shadow", "drift", "canary 10%", "canary 50%", "cutover", "rollback", "cutover again"):
        assert f"==> {step}: " in ran.stdout
    assert "failures:  0 " in ran.stdout and "verify:    clean" in ran.stdout and "lost: 0 " in ran.stdout
