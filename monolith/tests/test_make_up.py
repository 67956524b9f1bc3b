"""`make up` runs `tools/stack.py up`: these tests run that script for real, on a free port and a state
directory of their own (never the developer's .run/), and talk to the server it starts over HTTP."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "tools" / "stack.py"
SMALL_SHOP = "--products 40 --customers 0 --orders 0"  # the seed itself is tested in seeding/tests


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def stack_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for the stack: its own state dir and a small seed. `make up` runs on SQLite, in the state
    directory, whatever engine the rest of the suite uses: the suite's DATABASE_URL is not passed on."""
    state = tmp_path_factory.mktemp("run")
    hidden = {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}
    env = {key: value for key, value in os.environ.items() if key not in hidden}
    env.update(STRANGLER_STATE_DIR=str(state), MONOLITH_SEED_ARGS=SMALL_SHOP)
    return env


def run_stack(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(STACK), "up", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_make_up_serves_seeded_products_as_json_and_answers_healthz(stack_env):
    result = run_stack(stack_env, "--check", "--port", str(free_port()))

    assert result.returncode == 0, result.stdout + result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["healthz"] == {"status": "ok", "database": "ok"}
    assert probe["products"] > 0
    assert probe["first_product"]["sku"]
    assert "40 products" in result.stdout
    assert "staff / strangler-staff" in result.stdout
    assert (Path(stack_env["STRANGLER_STATE_DIR"]) / "monolith.sqlite3").exists()


def test_a_second_start_keeps_the_data_and_sigterm_stops_every_process(stack_env):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(STACK), "up", "--port", str(port)],
        env=stack_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    output = []
    try:
        deadline = time.monotonic() + 120
        while not any("Strangler stack is up" in line for line in output):
            assert time.monotonic() < deadline, "".join(output)
            assert process.poll() is None, "".join(output)
            try:
                output.append(lines.get(timeout=1))
            except queue.Empty:
                continue
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/catalog/products/", timeout=10) as response:
            products = json.load(response)

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    text = "".join(output)
    assert "nothing to do" in text  # seeded by the first start only
    assert products["count"] > 0
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine, a listener is not
        probe.bind(("127.0.0.1", port))


def test_a_taken_port_is_refused_before_anything_starts(stack_env, tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]

        result = run_stack({**stack_env, "STRANGLER_STATE_DIR": str(tmp_path)}, "--check", "--port", str(port))

    assert result.returncode == 1
    assert f"port {port}" in result.stderr
    assert not (tmp_path / "monolith.sqlite3").exists()
