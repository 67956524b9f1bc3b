"""`make up` runs `tools/stack.py up`: these tests run that script for real, on free ports and a state directory
of their own (never the developer's .run/), and talk to what it starts over HTTP and through the CLI."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import service_list  # tools/, on the path by pyproject.toml

ROOT = Path(__file__).resolve().parents[1]
STACK = ROOT / "tools" / "stack.py"
STRANGLER = Path(sys.executable).parent / "strangler"
SMALL_SHOP = "--products 40 --customers 0 --orders 0"  # the seed itself is tested in monolith/seeding/tests


# What `make up` starts on SQLite: the monolith, every service of extracted/services.toml that runs on SQLite, the
# proxy and its admin API, each on a port of its own (--<name>-port).
PROCESSES = ["monolith", *(s.name for s in service_list.load() if s.runs_on_sqlite), "proxy", "admin"]


def free_ports() -> dict[str, int]:
    sockets = [socket.socket() for _ in PROCESSES]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return {name: s.getsockname()[1] for name, s in zip(PROCESSES, sockets, strict=True)}
    finally:
        for s in sockets:
            s.close()


def port_args(ports: dict[str, int]) -> list[str]:
    return [arg for name, port in ports.items() for arg in (f"--{name}-port", str(port))]


@pytest.fixture(scope="module")
def stack_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """`make up` runs on SQLite in the state directory, whatever engine the caller's environment names."""
    state = tmp_path_factory.mktemp("run")
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "DJANGO_SETTINGS_MODULE" and not key.endswith("DATABASE_URL") and not key.startswith("STRANGLER_")
    }
    env.update(STRANGLER_STATE_DIR=str(state), MONOLITH_SEED_ARGS=SMALL_SHOP)
    return env


def run_stack(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(STACK), "up", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def get_json(url: str, token: str | None = None) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


class RunningStack:
    def __init__(self, env: dict[str, str], ports: dict[str, int]) -> None:
        self.env, self.ports = env, ports
        self.process = subprocess.Popen(
            [sys.executable, str(STACK), "up", *port_args(ports)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.process.stdout], daemon=True).start()

    def wait_for(self, pattern: str, timeout: float = 150) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            for line in self.output:
                if match := re.search(pattern, line):
                    return match
            assert time.monotonic() < deadline, f"no line matched {pattern!r}:\n" + "".join(self.output)
            assert self.process.poll() is None, "".join(self.output)
            try:
                self.output.append(self.lines.get(timeout=1))
            except queue.Empty:
                continue

    def url(self, which: str) -> str:
        return f"http://127.0.0.1:{self.ports[which]}"

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def close(self) -> None:
        """Stop the stack the way an operator would, so its children (in sessions of their own) stop too; SIGKILL
        only if it does not stop in time."""
        if self.process.poll() is None:
            try:
                self.stop()
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def running_stack(stack_env: dict[str, str]) -> Iterator[RunningStack]:
    stack = RunningStack(stack_env, free_ports())
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture
def own_stack(stack_env: dict[str, str], tmp_path: Path) -> Iterator[RunningStack]:
    """A stack on a state directory of its own: a test that moves the data leaves nothing for the next one."""
    stack = RunningStack({**stack_env, "STRANGLER_STATE_DIR": str(tmp_path)}, free_ports())
    try:
        yield stack
    finally:
        stack.close()


def test_make_up_serves_seeded_products_through_the_proxy_and_answers_healthz(stack_env):
    result = run_stack(stack_env, "--check", *port_args(free_ports()))

    assert result.returncode == 0, result.stdout + result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["healthz"] == {"status": "ok", "database": "ok"}
    assert probe["products"] > 0
    assert probe["first_product"]["sku"]
    assert "40 products" in result.stdout
    assert "staff / strangler-staff" in result.stdout
    state = Path(stack_env["STRANGLER_STATE_DIR"])
    assert (state / "monolith.sqlite3").exists()
    assert (state / "catalog.sqlite3").exists()


def test_the_catalog_service_answers_once_its_route_is_live_and_sees_monolith_writes(running_stack):
    staff_token = running_stack.wait_for(r"staff / strangler-staff\s+token (\w+)").group(1)
    running_stack.wait_for("Strangler stack is up")
    secrets = json.loads((Path(running_stack.env["STRANGLER_STATE_DIR"]) / "secrets.json").read_text())
    cli_env = {
        **running_stack.env,
        "STRANGLER_ADMIN_URL": running_stack.url("admin"),
        "STRANGLER_ADMIN_TOKEN": secrets["STRANGLER_ADMIN_TOKEN"],
    }
    # A product written in the monolith while its catalog still owns the data...
    category = get_json(running_stack.url("monolith") + "/api/catalog/categories/")["results"][0]["id"]
    body = json.dumps(
        {
            "sku": "MAKE-UP-1",
            "name": "Sync Probe",
            "slug": "sync-probe",
            "price": "9.50",
            "currency": "EUR",
            "active": True,
            "category": category,
        }
    ).encode()
    request = urllib.request.Request(
        running_stack.url("monolith") + "/api/catalog/products/",
        data=body,
        method="POST",
        headers={"Authorization": f"Token {staff_token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201

    # The route stands on the catalog's data: live is refused until the data cutover gives it to the service.
    refused = subprocess.run(
        [str(STRANGLER), "routes", "set", "/api/catalog", "--stage", "live", "--reason", "test: too early", "--json"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode == 5, refused.stdout + refused.stderr
    assert "strangler data cutover" in refused.stdout
    state = Path(running_stack.env["STRANGLER_STATE_DIR"])
    databases = [
        "--source",
        f"sqlite:///{state / 'monolith.sqlite3'}",
        "--target",
        f"sqlite:///{state / 'catalog.sqlite3'}",
    ]
    spec = str(ROOT / "migration-playbook" / "specs" / "catalog.toml")
    switched = subprocess.run(
        [str(STRANGLER), "data", "cutover", spec, *databases, "--json"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert switched.returncode == 0, switched.stdout + switched.stderr
    assert json.loads(switched.stdout)["stages"] == {"/api/catalog": "live"}

    # ...is served by the service through the proxy once the engine's sync carried it over.
    deadline = time.monotonic() + 15
    while True:
        found = get_json(running_stack.url("proxy") + "/api/catalog/products/?search=MAKE-UP-1")
        if found["count"] == 1:
            break
        assert time.monotonic() < deadline, "the sync did not carry the monolith's write to the service"
        time.sleep(0.3)
    assert found["results"][0]["name"] == "Sync Probe"
    running_stack.wait_for(r'"upstream":\s*"catalog"')  # the access log names the service as the answerer

    # Retire: the reverse sync stops and the monolith's catalog tables are archived; the service still answers.
    retired = subprocess.run(
        [str(STRANGLER), "data", "retire", spec, *databases, "--yes", "--json"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert retired.returncode == 0, retired.stdout + retired.stderr
    archived = json.loads(retired.stdout)["archived"]
    assert set(archived) == {"catalog_category", "catalog_product"}
    with sqlite3.connect(state / "monolith.sqlite3") as monolith:
        tables = {row[0] for row in monolith.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "catalog_product" not in tables and archived["catalog_product"] in tables
    assert get_json(running_stack.url("proxy") + "/api/catalog/products/?search=MAKE-UP-1")["count"] == 1
    assert running_stack.stop() == 0


def test_a_second_start_keeps_data_and_routes_and_sigterm_stops_every_process(stack_env, tmp_path):
    stack_env = {**stack_env, "STRANGLER_STATE_DIR": str(tmp_path)}
    assert run_stack(stack_env, "--check", *port_args(free_ports())).returncode == 0
    ports = free_ports()
    first = RunningStack(stack_env, ports)
    try:
        first.wait_for("Strangler stack is up")
        products = get_json(first.url("proxy") + "/api/catalog/products/")
        assert first.stop() == 0
    finally:
        first.close()
    text = "".join(first.output)
    assert "nothing to do" in text  # seeded by the first start only
    assert "[proxy] routes apply" not in text  # the route table is the operator's after the first start...
    assert f"upstream set catalog --url http://127.0.0.1:{ports['catalog']}" in text  # ...but this start's ports count
    assert products["count"] > 0
    for port in ports.values():
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine, a listener is not
            probe.bind(("127.0.0.1", port))


def test_a_taken_port_is_refused_before_anything_starts(stack_env, tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        ports = {**free_ports(), "admin": port}

        result = run_stack({**stack_env, "STRANGLER_STATE_DIR": str(tmp_path)}, "--check", *port_args(ports))

    assert result.returncode == 1
    assert f"port {port}" in result.stderr
    assert not (tmp_path / "monolith.sqlite3").exists()


def cli_in(stack: RunningStack, script: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`script` in bash after `source STATE/cli.env`, as an operator's second terminal: no other STRANGLER_* or
    database variable set, the repository as working directory."""
    state = Path(stack.env["STRANGLER_STATE_DIR"])
    env = {k: v for k, v in stack.env.items() if not k.startswith("STRANGLER_") and not k.endswith("DATABASE_URL")}
    env["PATH"] = f"{STRANGLER.parent}:{env.get('PATH', '')}"
    return subprocess.run(
        ["bash", "-c", f"set -e; source {state / 'cli.env'}; {script}"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


SPEC = "migration-playbook/specs/catalog.toml"
NONE = re.compile(r"\bNone\b")


def test_a_second_stack_on_the_same_state_directory_is_refused_naming_the_running_one(own_stack):
    own_stack.wait_for("Strangler stack is up")
    state = Path(own_stack.env["STRANGLER_STATE_DIR"])
    cli_env_before = (state / "cli.env").read_text()

    second = run_stack(own_stack.env, "--check", *port_args(free_ports()), timeout=60)

    assert second.returncode == 1
    assert "another stack is running on the state directory" in second.stderr
    assert f"pid {own_stack.process.pid}" in second.stderr and own_stack.url("proxy") in second.stderr
    assert (state / "cli.env").read_text() == cli_env_before
    assert get_json(own_stack.url("proxy") + "/api/catalog/products/")["count"] > 0  # the first one still serves
    routes = cli_in(own_stack, "strangler routes list --json")
    upstreams = json.loads(routes.stdout)["table"]["upstreams"]
    assert upstreams["catalog"]["url"] == own_stack.url("catalog")  # its upstreams were not re-pointed


def test_each_process_logs_to_its_own_file_and_cli_env_is_all_the_cli_needs(own_stack):
    own_stack.wait_for("Strangler stack is up")
    get_json(own_stack.url("proxy") + "/api/catalog/products/")
    logs = Path(own_stack.env["STRANGLER_STATE_DIR"]) / "logs"
    services = [s for s in service_list.load() if s.runs_on_sqlite]
    expected = ["monolith", "proxy", *(s.name for s in services), *(f"{s.name}-sync" for s in services if s.sync)]
    assert sorted(p.name for p in logs.iterdir()) == sorted(f"{name}.log" for name in expected)
    deadline = time.monotonic() + 10
    while '"route":"/api/catalog"' not in (logs / "proxy.log").read_text():
        assert time.monotonic() < deadline, "the proxy's access log line never reached proxy.log"
        time.sleep(0.1)
    assert "following forward" in (logs / "catalog-sync.log").read_text()

    used = cli_in(own_stack, f"strangler routes list && strangler diffs list && strangler data status {SPEC}")

    assert used.returncode == 0, used.stdout + used.stderr
    assert "route table version" in used.stdout and "no mismatches stored" in used.stdout
    assert "the monolith owns the data" in used.stdout


def test_status_and_plan_say_who_owns_the_data_after_cutover_and_after_rollback(own_stack):
    own_stack.wait_for("Strangler stack is up")
    shadow = 'strangler routes set /api/catalog --stage shadow --reason "compare first"'
    cut = cli_in(own_stack, f"{shadow} && strangler data cutover {SPEC}")
    assert cut.returncode == 0, cut.stdout + cut.stderr

    after_cutover = cli_in(own_stack, f"strangler data status {SPEC} && strangler data plan {SPEC}")

    assert after_cutover.returncode == 0, after_cutover.stderr
    text = after_cutover.stdout
    assert "catalog (reverse)" in text and "the service owns the data (since the cutover at" in text
    assert re.search(r"reverse sync: \d+ changes applied, \d+ pending, lag \d+\.\d+s", text)
    assert re.search(r"last verify: clean at \S+ \(by the cutover, with writes held\)", text)
    assert "copy ≈" not in text and "nothing to copy" in text
    assert not NONE.search(text)

    back = cli_in(own_stack, f"strangler data rollback {SPEC} --json >/dev/null && strangler data status {SPEC} --json")
    assert back.returncode == 0, back.stdout + back.stderr
    status = json.loads(back.stdout)
    assert (status["direction"], status["data_owner"]["owner"], status["data_owner"]["by"]) == (
        "forward",
        "monolith",
        "rollback",
    )
    assert status["sync"]["pending_changes"] is not None and status["last_verify"]["clean"] is True
    plan = cli_in(own_stack, f"strangler data plan {SPEC}")
    assert "the monolith owns the data again since the rollback" in plan.stdout and "copy ≈" not in plan.stdout


def test_the_same_wrong_token_gives_exit_code_4_in_every_group(own_stack):
    own_stack.wait_for("Strangler stack is up")
    shadow = 'strangler routes set /api/catalog --stage shadow --reason "compare first"'
    assert cli_in(own_stack, f"{shadow} && strangler data cutover {SPEC}").returncode == 0
    wrong = "export STRANGLER_ADMIN_TOKEN=not-the-proxys-token-0123456789abcdef;"
    codes = {}
    for command in (
        "strangler routes list",
        'strangler routes set /api/catalog --stage live --reason "t"',
        "strangler routes rollback --reason t",
        f"strangler data publish {SPEC}",
        f"strangler data rollback {SPEC}",  # a handover that cannot start: the token, not an abort
        f"strangler data cutover {SPEC}",
    ):
        ran = cli_in(own_stack, f"{wrong} {command}")
        codes[command] = ran.returncode
        assert "STRANGLER_ADMIN_TOKEN" in ran.stderr, (command, ran.stderr)
    assert set(codes.values()) == {4}, codes
    assert "the service owns the data" in cli_in(own_stack, f"strangler data status {SPEC}").stdout
