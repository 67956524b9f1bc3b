"""Real servers on free loopback ports, stopped whatever happens."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
START_SECONDS = 30.0


class ServerDidNotStart(Exception):
    pass


@dataclass(frozen=True)
class Server:
    name: str
    url: str
    log: Path
    process: subprocess.Popen[bytes]
    ready_path: str

    def wait_until_ready(self) -> Server:
        """Block until `ready_path` answers 200; raise with the log's tail if the process dies or takes too long."""
        deadline = time.monotonic() + START_SECONDS
        while True:
            if self.process.poll() is not None:
                raise ServerDidNotStart(f"{self.name} exited with {self.process.returncode}:\n{_tail(self.log)}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise ServerDidNotStart(
                    f"{self.name} did not answer {self.ready_path} in {START_SECONDS:.0f}s:\n{_tail(self.log)}"
                )
            time.sleep(0.1)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(args: list[str], *, cwd: Path, env: Mapping[str, str], timeout: float = 120) -> str:
    """Run a one-off command (migrate, a shell script); its output, or an error that shows it."""
    done = subprocess.run(args, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def run_together(commands: list[tuple[list[str], Path, Mapping[str, str]]], timeout: float = 180) -> None:
    """Run independent one-off commands at the same time (the migrations of two databases)."""
    pipe, merged = subprocess.PIPE, subprocess.STDOUT
    started = [
        (args, subprocess.Popen(args, cwd=cwd, env={**os.environ, **env}, stdout=pipe, stderr=merged))
        for args, cwd, env in commands
    ]
    failures = []
    for args, process in started:
        output, _ = process.communicate(timeout=timeout)
        if process.returncode != 0:
            failures.append(f"{' '.join(args)} failed ({process.returncode}):\n{output.decode(errors='replace')}")
    if failures:
        raise RuntimeError("\n".join(failures))


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


@contextlib.contextmanager
def serving(
    name: str, args: list[str], *, cwd: Path, env: Mapping[str, str], url: str, logs: Path, ready_path: str
) -> Iterator[Server]:
    """Start `args` and yield it (call `wait_until_ready` before using it: servers can boot side by side), then
    stop its process group."""
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, cwd=cwd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield Server(name=name, url=url, log=log, process=process, ready_path=ready_path)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def django(
    name: str, folder: Path, env: Mapping[str, str], logs: Path, *, port: int | None = None
) -> contextlib.AbstractContextManager[Server]:
    """A Django project served by granian, as in production (one worker: the tests need no more), on `port` (one
    chosen in advance, so that another process can be told it, or a restart keep it) or a free one."""
    port = port or free_port()
    args = [
        str(VENV_BIN / "granian"),
        "--interface",
        "wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "config.wsgi:application",
    ]
    return serving(name, args, cwd=folder, env=env, url=f"http://127.0.0.1:{port}", logs=logs, ready_path="/healthz")
