"""A real `strangler proxy` in a process of its own, for the engine's tests of its proxy seam: an empty SQLite
route store in a temporary folder, the public and admin listeners on ports the proxy picks (it prints them)."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

STRANGLER = str(Path(sys.executable).parent / "strangler")
ADMIN_TOKEN = "playbook-test-admin-token-0123456789abcdef"
IDENTITY_KEY = "playbook-test-identity-key-0123456789abcdef0123456789"
READY = re.compile(r"strangler proxy ready: public=(\S+) admin=(\S+)")
START_S = 30.0


@dataclass(frozen=True)
class RunningProxy:
    public_url: str
    admin_url: str
    token: str
    log: Path


@contextlib.contextmanager
def running_proxy(folder: Path, *, monolith_url: str = "http://127.0.0.1:9") -> Iterator[RunningProxy]:
    """Start `strangler proxy`, yield once it printed its ports, stop it (SIGTERM, then SIGKILL)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRANGLER_")}
    env.update(
        STRANGLER_LISTEN="127.0.0.1:0",
        STRANGLER_ADMIN_LISTEN="127.0.0.1:0",
        STRANGLER_ADMIN_TOKEN=ADMIN_TOKEN,
        STRANGLER_ROUTE_STORE=str(folder / "routes.sqlite3"),
        STRANGLER_MONOLITH_URL=monolith_url,
        STRANGLER_IDENTITY_KEY=IDENTITY_KEY,
        STRANGLER_LOG_LEVEL="warning",
    )
    log = folder / "proxy.log"
    process = subprocess.Popen(
        [STRANGLER, "proxy"], cwd=folder, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def copy() -> None:  # the log to a file, and each line to whoever waits for the ready line
        assert process.stderr is not None
        with log.open("w") as out:
            for line in process.stderr:
                out.write(line)
                out.flush()
                lines.put(line)
        lines.put(None)

    threading.Thread(target=copy, daemon=True).start()
    try:
        while True:
            line = lines.get(timeout=START_S)
            if line is None:
                raise RuntimeError(f"strangler proxy exited with {process.wait()}:\n{log.read_text()}")
            if ready := READY.search(line):
                break
        yield RunningProxy(ready.group(1), ready.group(2), ADMIN_TOKEN, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
