"""Helpers shared by the control-plane tests: a real server for the admin app, the test token."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A fresh database `<prefix>_<random>` on STRANGLER_TEST_POSTGRES (skip when unset), dropped afterwards."""
    server = os.environ.get("STRANGLER_TEST_POSTGRES")
    if not server:
        pytest.skip("PostgreSQL test: set STRANGLER_TEST_POSTGRES=postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


ADMIN_TOKEN = "test-admin-token-" + "x" * 32


async def public_placeholder(scope: Any, receive: Any, send: Any) -> None:
    """Stands in for the data plane where a test only needs the admin listener."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"public listener"})


@dataclass
class Served:
    public_url: str
    admin_url: str


@contextmanager
def serve_in_thread(public_app: Any, admin_app: Any) -> Iterator[Served]:
    """Run P1's ProxyServer (public + admin listeners on ephemeral loopback ports) on a loop in a thread."""
    from strangler_proxy.http.server import ProxyServer

    loop = asyncio.new_event_loop()
    server = ProxyServer(
        public_app=public_app, host="127.0.0.1", port=0, admin_app=admin_app, admin_host="127.0.0.1", admin_port=0
    )
    started = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            loop.run_until_complete(server.start())
        except BaseException as exc:
            failure.append(exc)
            started.set()
            return
        started.set()
        loop.run_until_complete(server.wait_stop_requested())
        loop.run_until_complete(server.stop())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    if failure:
        raise failure[0]
    try:
        yield Served(f"http://127.0.0.1:{server.public_port}", f"http://127.0.0.1:{server.admin_bound_port}")
    finally:
        loop.call_soon_threadsafe(server.request_stop)
        thread.join(10)
        loop.close()


STRANGLER = str(Path(sys.executable).parent / "strangler")
READY = re.compile(r"strangler proxy ready: public=(\S+) admin=(\S+) version=(\d+)")


@contextmanager
def upstream_server(
    name: str, *, on_request: Callable[[BaseHTTPRequestHandler], None] | None = None, keep_alive: bool = False
) -> Iterator[str]:
    """A real HTTP server on a loopback port that answers every request with {"upstream": name, "path": ...}.

    `on_request` sees each request (its body read) before it is answered, e.g. to record when writes arrive;
    `keep_alive` answers in HTTP/1.1 with persistent connections, as a real service would, instead of HTTP/1.0."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

        def do_GET(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if on_request is not None:
                on_request(self)
            body = json.dumps({"upstream": name, "path": self.path}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_PUT = do_DELETE = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class ProxyProcess:
    process: subprocess.Popen[str]
    public_url: str
    admin_url: str
    output: list[str]

    def log_text(self) -> str:
        return "".join(self.output)


def proxy_env(**variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRANGLER_") or k == "STRANGLER_TEST_POSTGRES"}
    env.update(
        STRANGLER_LISTEN="127.0.0.1:0",
        STRANGLER_ADMIN_LISTEN="127.0.0.1:0",
        STRANGLER_ADMIN_TOKEN=ADMIN_TOKEN,
        STRANGLER_STORE_POLL="0.5",
        # The data plane signs identities for services with this key (docs/identity.md); any 32+ characters do here.
        STRANGLER_IDENTITY_KEY="control-plane-tests-identity-key-0123456789",
    )
    env.update(variables)
    return env


@contextmanager
def proxy_process(**variables: str) -> Iterator[ProxyProcess]:
    """`strangler proxy` in a subprocess on ephemeral ports; killed at the end whatever happens."""
    process = subprocess.Popen(
        [STRANGLER, "proxy"],
        env=proxy_env(**variables),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    ready: list[re.Match[str]] = []
    seen = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            match = READY.search(line)
            if match:
                ready.append(match)
                seen.set()
        seen.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        seen.wait(20)
        if not ready:
            process.kill()
            process.wait(5)
            raise RuntimeError("strangler proxy did not start:\n" + "".join(output))
        yield ProxyProcess(process, ready[0].group(1), ready[0].group(2), output)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def run_cli(
    *args: str, admin_url: str, token: str | None = ADMIN_TOKEN, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    variables = {k: v for k, v in os.environ.items() if not k.startswith("STRANGLER_")}
    variables.update(STRANGLER_ADMIN_URL=admin_url, STRANGLER_ACTOR="alice@test", **(env or {}))
    if token is not None:
        variables["STRANGLER_ADMIN_TOKEN"] = token
    return subprocess.run([STRANGLER, *args], env=variables, capture_output=True, text=True, timeout=30, check=False)


def wait_for(predicate: Any, timeout: float, interval: float = 0.02) -> float:
    """Poll until predicate() is true; return the seconds it took (raise AssertionError after timeout)."""
    started = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(interval)
