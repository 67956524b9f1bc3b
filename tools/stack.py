#!/usr/bin/env python3
"""The stack behind `make up`: prepare each process (migrate, seed on first run, demo users), start them all,
wait until each answers its health check, print where everything is, and stop everything cleanly on Ctrl-C or
SIGTERM. A process that dies takes the stack down with it (exit 1), so a broken stack never looks healthy.

    .venv/bin/python tools/stack.py up            # run until Ctrl-C
    .venv/bin/python tools/stack.py up --check    # start, probe the API, stop; exit 0 only if all answered

The stack is a list of ProcessSpec (see `specs`): adding a service or the proxy is one more entry. Every flag
is also an environment variable: STRANGLER_STATE_DIR (default .run/: databases, logs), STRANGLER_HOST,
MONOLITH_PORT (default 8000), MONOLITH_SEED_ARGS (seed size on first run), DATABASE_URL (default: SQLite in the
state directory).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SEED_ARGS = "--products 2000 --customers 300 --orders 1500 --lines-per-order 3 --seed 42"
HEALTH_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


class StackError(Exception):
    """The stack cannot start or stopped working; the message says what to do."""


class Interrupted(StackError):
    """Ctrl-C or SIGTERM arrived before the stack was up."""


@dataclass(frozen=True)
class Config:
    state_dir: Path
    host: str
    monolith_port: int
    monolith_database_url: str
    seed_args: list[str]
    check: bool

    @property
    def monolith_url(self) -> str:
        return f"http://{self.host}:{self.monolith_port}"


@dataclass(frozen=True)
class ProcessSpec:
    """One long-running process of the stack and what must happen before it starts."""

    name: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    port: int
    health_url: str
    prepare: list[list[str]] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)


def specs(config: Config) -> list[ProcessSpec]:
    python = sys.executable
    monolith_env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.development",
        "DATABASE_URL": config.monolith_database_url,
        "PYTHONPATH": str(ROOT / "monolith"),
    }
    manage = [python, "manage.py"]
    return [
        ProcessSpec(
            name="monolith",
            argv=[
                *(python, "-m", "granian", "--interface", "wsgi", "--workers", "1", "--blocking-threads", "4"),
                *("--host", config.host, "--port", str(config.monolith_port), "config.wsgi:application"),
            ],
            cwd=ROOT / "monolith",
            env=monolith_env,
            port=config.monolith_port,
            health_url=f"{config.monolith_url}/healthz",
            # migrate, seed only while the catalog is empty (the first run), demo users: one Django start-up.
            prepare=[[*manage, "dev_setup", "--seed-args", shlex.join(config.seed_args)]],
            urls={
                "API": f"{config.monolith_url}/api/",
                "products": f"{config.monolith_url}/api/catalog/products/",
                "OpenAPI schema": f"{config.monolith_url}/api/schema/",
                "admin": f"{config.monolith_url}/admin/",
                "health": f"{config.monolith_url}/healthz",
            },
        ),
    ]


class Stack:
    def __init__(self, config: Config, processes: Sequence[ProcessSpec]) -> None:
        self.config = config
        self.processes = processes
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = False

    def check_ports(self) -> None:
        for spec in self.processes:
            if not port_is_free(self.config.host, spec.port):
                raise StackError(
                    f"{spec.name}: port {spec.port} on {self.config.host} is taken; stop what uses it or pick "
                    f"another port (see --help)"
                )

    def prepare(self) -> None:
        for spec in self.processes:
            for command in spec.prepare:
                self._raise_if_stopping()
                print(f"[{spec.name}] {' '.join(command[1:])}", flush=True)
                result = subprocess.run(command, cwd=spec.cwd, env=self._env(spec), check=False)
                if result.returncode:
                    self._raise_if_stopping()  # Ctrl-C reached the command too
                    raise StackError(f"{spec.name}: `{' '.join(command[1:])}` failed (exit {result.returncode})")

    def start(self) -> None:
        for spec in self.processes:
            log = self._log_path(spec)
            output = log.open("ab") if self.config.check else None
            # A session of its own: the terminal's Ctrl-C reaches only us, and we stop children in order.
            self.running[spec.name] = subprocess.Popen(
                spec.argv, cwd=spec.cwd, env=self._env(spec), stdout=output, stderr=output, start_new_session=True
            )
            if output:
                output.close()
        for spec in self.processes:
            self._wait_healthy(spec)

    def watch(self) -> int:
        """Block until a signal asks us to stop (exit 0) or a process dies on its own (exit 1)."""
        while not self.stopping:
            for name, process in self.running.items():
                if process.poll() is not None:
                    print(f"[{name}] exited with {process.returncode}; stopping the stack", file=sys.stderr)
                    return 1
            time.sleep(0.2)
        return 0

    def stop(self) -> None:
        for name, process in reversed(list(self.running.items())):
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    print(f"[{name}] did not stop within {STOP_TIMEOUT:.0f}s; killing it", file=sys.stderr)
                    _signal_group(process, signal.SIGKILL)
                    process.wait()
        self.running.clear()

    def _wait_healthy(self, spec: ProcessSpec) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT
        process = self.running[spec.name]
        while time.monotonic() < deadline:
            self._raise_if_stopping()
            if process.poll() is not None:
                raise StackError(
                    f"{spec.name} exited with {process.returncode} before it was healthy{self._hint(spec)}"
                )
            try:
                with urllib.request.urlopen(spec.health_url, timeout=2) as response:  # noqa: S310 - our own URL
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise StackError(f"{spec.name} did not answer {spec.health_url} within {HEALTH_TIMEOUT:.0f}s{self._hint(spec)}")

    def _raise_if_stopping(self) -> None:
        if self.stopping:
            raise Interrupted("interrupted before the stack was up; stopped what had started")

    def _hint(self, spec: ProcessSpec) -> str:
        return f"; see {self._log_path(spec)}" if self.config.check else ""

    def _log_path(self, spec: ProcessSpec) -> Path:
        return self.config.state_dir / f"{spec.name}.log"

    def _env(self, spec: ProcessSpec) -> dict[str, str]:
        return {**os.environ, **spec.env}


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our own URL
        return json.load(response)


def probe(config: Config) -> dict[str, Any]:
    """What --check verifies: the API serves seeded products as JSON and /healthz answers."""
    products = get_json(f"{config.monolith_url}/api/catalog/products/")
    health = get_json(f"{config.monolith_url}/healthz")
    first = products["results"][0] if products.get("results") else None
    return {"healthz": health, "products": products.get("count", 0), "first_product": first}


def print_banner(stack: Stack) -> None:
    print("\nStrangler stack is up (Ctrl-C stops it)\n")
    for spec in stack.processes:
        for label, url in spec.urls.items():
            print(f"  {spec.name} {label:<16} {url}")
    print("\nSign in (development only):")
    print("  staff (admin + catalog/inventory writes)  staff / strangler-staff")
    print("  customer                                  demo / strangler-demo")
    print("  seeded customers                          <username> / shopper-password")
    print(
        f"  token: curl -X POST -d username=demo -d password=strangler-demo {stack.config.monolith_url}/api/auth/token/"
    )
    print(f"\nState (databases, logs): {stack.config.state_dir}\n", flush=True)


def up(config: Config) -> int:
    config.state_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(config, specs(config))

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stack.stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.check_ports()
        stack.prepare()
        stack.check_ports()  # again: something may have taken a port while we migrated
        stack.start()
        if config.check:
            result = probe(config)
            print(json.dumps(result))
            return 0 if result["products"] > 0 and result["healthz"].get("status") == "ok" else 1
        print_banner(stack)
        return stack.watch()
    except StackError as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 130 if isinstance(exc, Interrupted) else 1
    finally:
        stack.stop()


def parse_config(argv: Sequence[str]) -> Config:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="tools/stack.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["up"])
    parser.add_argument("--check", action="store_true", help="start, probe the API and /healthz, stop")
    parser.add_argument("--state-dir", type=Path, default=Path(env.get("STRANGLER_STATE_DIR", ROOT / ".run")))
    parser.add_argument("--host", default=env.get("STRANGLER_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env.get("MONOLITH_PORT", "8000")), help="monolith port")
    parser.add_argument("--seed-args", default=env.get("MONOLITH_SEED_ARGS", DEFAULT_SEED_ARGS))
    args = parser.parse_args(argv)
    state_dir = args.state_dir.resolve()
    return Config(
        state_dir=state_dir,
        host=args.host,
        monolith_port=args.port,
        monolith_database_url=env.get("DATABASE_URL", f"sqlite:///{state_dir / 'monolith.sqlite3'}"),
        seed_args=shlex.split(args.seed_args),
        check=args.check,
    )


def main(argv: Sequence[str] | None = None) -> int:
    return up(parse_config(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
