#!/usr/bin/env python3
"""The stack behind `make up`: the monolith, each extracted service of extracted/services.toml with its own
database (filled and kept in sync by the migration engine), and the routing proxy in front of them. Each process
is prepared (migrate, seed on the first run, backfill), started, and waited for until it answers its health check;
then the URLs are printed. Ctrl-C or SIGTERM stops everything cleanly. A process that dies takes the stack down with it
(exit 1), so a broken stack never looks healthy.

    .venv/bin/python tools/stack.py up            # run until Ctrl-C
    .venv/bin/python tools/stack.py up --check    # start, probe through the proxy, stop; exit 0 only if all answered

One state directory runs one stack: `up` takes a lock on STATE_DIR/stack.lock for its whole life, and a second
`up` on the same directory refuses at once, naming the running one (its pid, URLs and start time). Each process
writes its output to STATE_DIR/logs/<name>.log (and, prefixed with its name, to the terminal), and STATE_DIR/cli.env
sets every variable the `strangler` CLI needs for this stack (admin API and token, route store, both databases).

The stack is a list of ProcessSpec (see `specs`) made from the services list (tools/service_list.py): adding a
service is one entry in extracted/services.toml. A service that runs on SQLite starts on a file of its own in the
state directory; one that needs PostgreSQL starts only when <NAME>_DATABASE_URL names its database. Every flag is
also an environment variable: STRANGLER_STATE_DIR (default .run/: databases, logs, generated dev secrets),
STRANGLER_HOST, MONOLITH_PORT (8000), <NAME>_PORT per service (its `port` in the list), STRANGLER_PROXY_PORT (8080),
STRANGLER_ADMIN_PORT (8081), MONOLITH_SEED_ARGS (seed size on the first run), DATABASE_URL (the monolith's;
default SQLite in the state directory) and <NAME>_DATABASE_URL per service (default <name>.sqlite3 there).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

import service_list
from service_list import Service

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
    proxy_port: int
    admin_port: int
    monolith_database_url: str
    seed_args: list[str]
    check: bool
    services: list[Service]  # those this stack runs, in the list's order
    service_ports: dict[str, int]
    service_database_urls: dict[str, str]

    def url(self, port: int) -> str:
        return f"http://{self.host}:{port}"

    @property
    def monolith_url(self) -> str:
        return self.url(self.monolith_port)

    @property
    def proxy_url(self) -> str:
        return self.url(self.proxy_port)

    @property
    def admin_url(self) -> str:
        return self.url(self.admin_port)

    def service_url(self, service: Service) -> str:
        return self.url(self.service_ports[service.name])

    @property
    def ports(self) -> list[int]:
        return [
            self.monolith_port,
            *(self.service_ports[s.name] for s in self.services),
            self.proxy_port,
            self.admin_port,
        ]


def dev_secrets(state_dir: Path) -> dict[str, str]:
    """The admin token and identity key of this development stack: generated once, kept in the state directory
    (never in the repository), so the CLI keeps working across restarts."""
    path = state_dir / "secrets.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    values = {
        "STRANGLER_ADMIN_TOKEN": secrets.token_urlsafe(32),
        "STRANGLER_IDENTITY_KEY": secrets.token_urlsafe(32),
    }
    path.touch(mode=0o600)
    path.write_text(json.dumps(values, indent=2))
    return values


def cli_env(config: Config, keys: dict[str, str]) -> str:
    """STATE_DIR/cli.env: every variable the `strangler` CLI needs to talk to this stack, for `source`."""
    values = {
        "STRANGLER_ADMIN_URL": config.admin_url,
        "STRANGLER_ADMIN_TOKEN": keys["STRANGLER_ADMIN_TOKEN"],
        "STRANGLER_ROUTE_STORE": str(config.state_dir / "strangler-routes.sqlite3"),  # `strangler diffs`
        "MONOLITH_DATABASE_URL": config.monolith_database_url,  # the specs' databases: `strangler data`
        **{f"{s.variable}_DATABASE_URL": config.service_database_urls[s.name] for s in config.services},
    }
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in values.items())


class StateLock:
    """One stack per state directory: an exclusive lock on STATE_DIR/stack.lock, held while `up` runs (the kernel
    drops it when the process dies, however it dies), whose file says who holds it."""

    def __init__(self, config: Config) -> None:
        self.path = config.state_dir / "stack.lock"
        self.config = config
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "{}"
            handle.close()
            raise StackError(_held_by(self.config.state_dir, json.loads(holder))) from None
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                    "proxy": self.config.proxy_url,
                    "admin": self.config.admin_url,
                }
            )
        )
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _held_by(state_dir: Path, holder: dict[str, Any]) -> str:
    pid = holder.get("pid", "?")
    return (
        f"another stack is running on the state directory {state_dir}: pid {pid}, proxy {holder.get('proxy', '?')}, "
        f"admin API {holder.get('admin', '?')}, started {holder.get('started', '?')}. Stop it first (Ctrl-C in its "
        f"terminal, or `kill {pid}`), or give this one a state directory of its own (STRANGLER_STATE_DIR=...)"
    )


@dataclass(frozen=True)
class ProcessSpec:
    """One long-running process of the stack and what must happen before it starts."""

    name: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    port: int | None  # None: a worker with no listener (alive is healthy)
    health_url: str | None
    prepare: list[list[str]] = field(default_factory=list)
    after: list[list[str]] = field(default_factory=list)  # run once the process is healthy
    after_hook: Callable[[dict[str, str]], None] | None = None  # then this, with the process's environment
    urls: dict[str, str] = field(default_factory=dict)


def specs(config: Config, keys: dict[str, str]) -> list[ProcessSpec]:
    python = sys.executable
    strangler = str(Path(python).parent / "strangler")
    monolith_env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.development",
        "DATABASE_URL": config.monolith_database_url,
        "PYTHONPATH": str(ROOT / "monolith"),
        # The seams: once a service owns its data, the monolith asks it, signing as the proxy does.
        **{f"{s.variable}_SERVICE_URL": config.service_url(s) for s in config.services if s.seam},
        "STRANGLER_IDENTITY_KEY": keys["STRANGLER_IDENTITY_KEY"],
    }
    route_store = config.state_dir / "strangler-routes.sqlite3"
    proxy_env = {
        **keys,
        "STRANGLER_LISTEN": f"{config.host}:{config.proxy_port}",
        "STRANGLER_ADMIN_LISTEN": f"{config.host}:{config.admin_port}",
        "STRANGLER_ROUTE_STORE": str(route_store),
        "STRANGLER_MONOLITH_URL": config.monolith_url,
        "STRANGLER_ADMIN_URL": config.admin_url,
    }
    routes_file = config.state_dir / "routes.toml"
    routes_file.write_text(initial_routes(config))
    # The first start puts each service on the route table (stage `off`); later starts keep whatever stage the
    # operator has moved it to since, point the upstreams at this run's ports, and add what the list gained since.
    if route_store.exists():
        reason = ["--reason", "make up: this start's ports"]
        proxy_after = [
            [strangler, "routes", "upstream", "set", "monolith", "--url", config.monolith_url, *reason],
            *(
                [strangler, "routes", "upstream", "set", s.name, "--url", config.service_url(s), *reason]
                for s in config.services
            ),
        ]
        proxy_hook = functools.partial(_add_missing_routes, config, strangler)
    else:
        reason = ["--reason", "make up: first start registers the services"]
        proxy_after = [[strangler, "routes", "apply", str(routes_file), *reason]]
        proxy_hook = None
    processes = [
        ProcessSpec(
            name="monolith",
            argv=[*GRANIAN_WSGI, "--host", config.host, "--port", str(config.monolith_port), "config.wsgi:application"],
            cwd=ROOT / "monolith",
            env=monolith_env,
            port=config.monolith_port,
            health_url=f"{config.monolith_url}/healthz",
            # migrate, seed only while the catalog is empty (the first run), demo users: one Django start-up.
            prepare=[[python, "manage.py", "dev_setup", "--seed-args", shlex.join(config.seed_args)]],
            urls={
                "API (direct)": f"{config.monolith_url}/api/",
                "OpenAPI schema": f"{config.monolith_url}/api/schema/",
                "admin": f"{config.monolith_url}/admin/",
            },
        ),
    ]
    for service in config.services:
        processes.extend(service_processes(config, keys, service))
    processes.append(
        ProcessSpec(
            name="proxy",
            argv=[strangler, "proxy"],
            cwd=ROOT,
            env=proxy_env,
            port=config.proxy_port,
            health_url=f"{config.admin_url}/healthz",
            after=proxy_after,
            after_hook=proxy_hook,
            urls={
                "shop (via proxy)": f"{config.proxy_url}/api/",
                "products": f"{config.proxy_url}/api/catalog/products/",
                "admin API": config.admin_url,
                "metrics": f"{config.admin_url}/metrics (bearer token)",
            },
        )
    )
    return processes


GRANIAN_WSGI = [sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", "1", "--blocking-threads", "4"]


def service_processes(config: Config, keys: dict[str, str], service: Service) -> list[ProcessSpec]:
    """A service of the list as processes: the service itself (its schema by its own migrations, its rows by the
    engine's backfill, a no-op once done) and, if it has one, its sync worker."""
    python = sys.executable
    port = str(config.service_ports[service.name])
    database_url = config.service_database_urls[service.name]
    extra = {name: value.replace("{proxy}", config.proxy_url) for name, value in service.env.items()}
    env = {"DATABASE_URL": database_url, "STRANGLER_IDENTITY_KEY": keys["STRANGLER_IDENTITY_KEY"], **extra}
    data = [python, "-m", "strangler_playbook"]
    databases = ["--source", config.monolith_database_url, "--target", database_url]
    if service.kind == "django":
        env.update(DJANGO_SETTINGS_MODULE="config.settings.development", PYTHONPATH=str(service.path))
        argv = [*GRANIAN_WSGI, "--host", config.host, "--port", port, "config.wsgi:application"]
        migrate = [python, "manage.py", "migrate", "--noinput", "-v", "0"]
    else:
        assert service.module is not None  # service_list checks it
        env.setdefault("ALLOWED_HOSTS", f"localhost,{config.host}")
        argv = [python, "-m", service.module, "serve", "--host", config.host, "--port", port]
        migrate = [python, "-m", service.module, "migrate"]
    processes = [
        ProcessSpec(
            name=service.name,
            argv=argv,
            cwd=service.path,
            env=env,
            port=config.service_ports[service.name],
            health_url=f"{config.service_url(service)}{service.health}",
            prepare=[migrate, [*data, "backfill", str(service.spec_path), *databases]],
            urls={"API (direct)": f"{config.service_url(service)}{service.routes[0]}/"},
        )
    ]
    if service.sync:
        # Forward while the monolith owns the data, reverse after `strangler data cutover`, and back.
        processes.append(
            ProcessSpec(
                name=f"{service.name}-sync",
                argv=[*data, "follow", str(service.spec_path), *databases],
                cwd=ROOT / "migration-playbook",
                env={},
                port=None,
                health_url=None,
            )
        )
    return processes


def initial_routes(config: Config) -> str:
    lines = [
        "# Written by tools/stack.py for `make up`: the services of extracted/services.toml are known, their routes",
        "# are `off`. Canary and live wait until `strangler data` reports each route's data ready.",
        "[upstreams.monolith]",
        f'url = "{config.monolith_url}"',
    ]
    for service in config.services:
        lines += ["", f"[upstreams.{service.name}]", f'url = "{config.service_url(service)}"']
    for service in config.services:
        for route in service.routes:
            lines += ["", "[[routes]]", f'path = "{route}"', f'service = "{service.name}"', 'stage = "off"']
            lines.append(f'data = "{service.name}"')
    return "\n".join(lines) + "\n"


def _add_missing_routes(config: Config, strangler: str, env: dict[str, str]) -> None:
    """A later start, after the list gained a service: its routes join the table at stage `off`; the routes already
    there keep their stage."""
    listed = subprocess.run(
        [strangler, "routes", "list", "--json"], capture_output=True, text=True, env=env, check=False
    )
    if listed.returncode:
        raise StackError(f"proxy: `strangler routes list` failed (exit {listed.returncode}): {listed.stderr.strip()}")
    table = json.loads(listed.stdout).get("table") or {}
    known = {route["path"] for route in table.get("routes", [])}
    for service in config.services:
        for route in service.routes:
            if route in known:
                continue
            command = [strangler, "routes", "set", route, "--service", service.name, "--stage", "off"]
            command += ["--data", service.name, "--reason", f"make up: {service.name} joined extracted/services.toml"]
            print(f"[proxy] {' '.join(command[1:])}", flush=True)
            if subprocess.run(command, env=env, check=False).returncode:
                raise StackError(f"proxy: `{' '.join(command[1:])}` failed")


class Stack:
    def __init__(self, config: Config, processes: Sequence[ProcessSpec]) -> None:
        self.config = config
        self.processes = processes
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = False

    def check_ports(self) -> None:
        for port in self.config.ports:
            if not port_is_free(self.config.host, port):
                raise StackError(
                    f"port {port} on {self.config.host} is taken; stop what uses it or pick another port (see --help)"
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
        self.logs.mkdir(exist_ok=True)
        for spec in self.processes:
            # A session of its own: the terminal's Ctrl-C reaches only us, and we stop children in order.
            process = subprocess.Popen(
                spec.argv,
                cwd=spec.cwd,
                env=self._env(spec),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
            self.running[spec.name] = process
            assert process.stdout is not None
            echo = None if self.config.check else spec.name
            threading.Thread(
                target=_copy_output, args=(process.stdout, self._log_path(spec), echo), daemon=True
            ).start()
        for spec in self.processes:
            self._wait_healthy(spec)
            for command in spec.after:
                print(f"[{spec.name}] {' '.join(command[1:])}", flush=True)
                result = subprocess.run(command, cwd=spec.cwd, env=self._env(spec), check=False)
                if result.returncode:
                    raise StackError(f"{spec.name}: `{' '.join(command[1:])}` failed (exit {result.returncode})")
            if spec.after_hook is not None:
                spec.after_hook(self._env(spec))

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
            if spec.health_url is None:
                return
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
        return f"; see {self._log_path(spec)}"

    @property
    def logs(self) -> Path:
        return self.config.state_dir / "logs"

    def _log_path(self, spec: ProcessSpec) -> Path:
        return self.logs / f"{spec.name}.log"

    def _env(self, spec: ProcessSpec) -> dict[str, str]:
        return {**os.environ, **spec.env}


def _copy_output(output: IO[bytes], log: Path, echo: str | None) -> None:
    """One process's output, line by line, into its log file and (unless --check) to the terminal with its name."""
    with log.open("ab") as file:
        for line in output:
            file.write(line)
            file.flush()
            if echo is not None:
                sys.stdout.write(f"[{echo}] {line.decode('utf-8', 'replace')}")
                sys.stdout.flush()


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it if the stack itself dies (even by SIGKILL), so no
    server outlives `make up`. Elsewhere a no-op: Ctrl-C and SIGTERM still stop everything in order."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


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
    """What --check verifies: through the proxy, the API serves seeded products as JSON and /healthz answers."""
    products = get_json(f"{config.proxy_url}/api/catalog/products/")
    health = get_json(f"{config.proxy_url}/healthz")
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
    print(f"  token: curl -X POST -d username=demo -d password=strangler-demo {stack.config.proxy_url}/api/auth/token/")
    print(f"\nOperator console: {stack.config.admin_url}/console/ (log in with STRANGLER_ADMIN_TOKEN from cli.env)")
    for service in stack.config.services:
        route = service.routes[0]
        print(f"\nMove the {service.name} (from another terminal):")
        print(f"  source {stack.config.state_dir / 'cli.env'}     # admin API and token, route store, the databases")
        print("  .venv/bin/strangler routes list")
        print(
            f'  .venv/bin/strangler routes set {route} --service {service.name} --stage shadow --reason "compare first"'
        )
        print(f"  .venv/bin/strangler data status {service.spec}")
        print(f"  .venv/bin/strangler data cutover {service.spec}")
        print(f"  (runbook: migration-playbook/runbooks/{service.name}.md)")
    skipped = [s.name for s in service_list.load() if s not in stack.config.services]
    if skipped:
        print(f"\nNot started (PostgreSQL only; set <NAME>_DATABASE_URL to run them): {', '.join(skipped)}")
    print(f"\nState (databases, dev secrets): {stack.config.state_dir}; logs: {stack.logs}/<process>.log\n", flush=True)


def up(config: Config) -> int:
    config.state_dir.mkdir(parents=True, exist_ok=True)
    lock = StateLock(config)
    try:
        lock.acquire()  # before anything in the state directory is written
    except StackError as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 1
    try:
        return _up(config)
    finally:
        lock.release()


def _up(config: Config) -> int:
    keys = dev_secrets(config.state_dir)
    env_file = config.state_dir / "cli.env"
    env_file.touch(mode=0o600)
    env_file.write_text(cli_env(config, keys))
    stack = Stack(config, specs(config, keys))

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


def parse_config(argv: Sequence[str], listed: list[Service] | None = None) -> Config:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="tools/stack.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["up"])
    parser.add_argument("--check", action="store_true", help="start, probe the API and /healthz, stop")
    parser.add_argument("--state-dir", type=Path, default=Path(env.get("STRANGLER_STATE_DIR", ROOT / ".run")))
    parser.add_argument("--host", default=env.get("STRANGLER_HOST", "127.0.0.1"))
    parser.add_argument(
        "--port",
        "--monolith-port",
        dest="monolith_port",
        type=int,
        default=int(env.get("MONOLITH_PORT", "8000")),
        help="monolith port",
    )
    listed = service_list.load() if listed is None else listed
    for service in listed:
        parser.add_argument(
            f"--{service.name}-port",
            dest=f"port_{service.name}",
            type=int,
            default=int(env.get(f"{service.variable}_PORT", str(service.port))),
            help=f"{service.name} service port",
        )
    parser.add_argument("--proxy-port", type=int, default=int(env.get("STRANGLER_PROXY_PORT", "8080")))
    parser.add_argument("--admin-port", type=int, default=int(env.get("STRANGLER_ADMIN_PORT", "8081")))
    parser.add_argument("--seed-args", default=env.get("MONOLITH_SEED_ARGS", DEFAULT_SEED_ARGS))
    args = parser.parse_args(argv)
    state_dir = args.state_dir.resolve()
    database_urls = {s.name: env.get(f"{s.variable}_DATABASE_URL", "") for s in listed}
    # A service that needs PostgreSQL runs only when its database is named; the others default to SQLite files.
    services = [s for s in listed if s.runs_on_sqlite or database_urls[s.name].startswith("postgres")]
    for service in services:
        database_urls[service.name] = database_urls[service.name] or f"sqlite:///{state_dir / service.name}.sqlite3"
    return Config(
        state_dir=state_dir,
        host=args.host,
        monolith_port=args.monolith_port,
        proxy_port=args.proxy_port,
        admin_port=args.admin_port,
        monolith_database_url=env.get("DATABASE_URL", f"sqlite:///{state_dir / 'monolith.sqlite3'}"),
        seed_args=shlex.split(args.seed_args),
        check=args.check,
        services=services,
        service_ports={s.name: getattr(args, f"port_{s.name}") for s in services},
        service_database_urls={s.name: database_urls[s.name] for s in services},
    )


def main(argv: Sequence[str] | None = None) -> int:
    return up(parse_config(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
