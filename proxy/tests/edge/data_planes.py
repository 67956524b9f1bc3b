"""The two data planes the conformance suite runs on, behind one interface: the Python proxy, and real nginx serving
the configuration `strangler routes export --format nginx` renders (with Strangler's mirror intake as its
comparator). Both sit in front of the same two recording upstreams on loopback, which name themselves in an
`X-Upstream` header."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from conftest import LoopThread
from strangler_proxy.compare.mirror_intake import MirrorIntake
from strangler_proxy.dataplane.app import ProxyApp
from strangler_proxy.dataplane.model import Route, RouteTable, Upstream
from strangler_proxy.dataplane.shadow import ShadowResult
from strangler_proxy.edge.nginx_config import NginxOptions, render_nginx
from strangler_proxy.edge.nginx_control import check_config, find_nginx, reload
from strangler_proxy.http.server import ProxyServer, ServerLimits
from upstream_double import Received, respond
from upstream_double import Upstream as Double


def tagged(name: str) -> Callable[[Received, asyncio.StreamWriter], object]:
    async def handler(req: Received, writer: asyncio.StreamWriter) -> None:
        await respond(writer, 200, [(b"Content-Type", b"application/json"), (b"X-Upstream", name.encode())], b"{}")

    return handler


NOBODY = 65534


def nginx_prefix() -> Path:
    """A fresh prefix directory nginx may write as the user it runs as (`as_non_root`)."""
    prefix = Path(tempfile.mkdtemp(prefix="strangler-edge-nginx-"))
    if os.geteuid() == 0:
        os.chown(prefix, NOBODY, NOBODY)
    return prefix


def as_non_root(command: list[str]) -> list[str]:
    """nginx runs as an unprivileged user, as a team's edge would: as root, the tests drop to nobody first."""
    if os.geteuid() != 0:
        return command
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--", *command]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Upstreams:
    def __init__(self, lt: LoopThread) -> None:
        self.lt = lt
        self.monolith = Double("monolith", handler=tagged("monolith"))  # type: ignore[arg-type]
        self.catalog = Double("catalog", handler=tagged("catalog"))  # type: ignore[arg-type]
        lt.run(self.monolith.start())
        lt.run(self.catalog.start())
        self.version = 1

    def table(self, *routes: Route, catalog_url: str | None = None) -> RouteTable:
        self.version += 1
        self.monolith.received.clear()
        self.catalog.received.clear()
        return RouteTable(
            version=self.version,
            upstreams={
                "monolith": Upstream("monolith", self.monolith.url),
                "catalog": Upstream("catalog", catalog_url or self.catalog.url),
            },
            routes=routes,
        )

    def close(self) -> None:
        self.lt.run(self.monolith.stop())
        self.lt.run(self.catalog.stop())


class PythonPlane:
    name = "python"

    def __init__(self, lt: LoopThread, table: RouteTable) -> None:
        self.lt = lt

        async def start() -> tuple[ProxyApp, ProxyServer]:
            app = ProxyApp(table)
            server = ProxyServer(public_app=app, host="127.0.0.1", port=0, limits=ServerLimits(shutdown_grace=1))
            await server.start()
            return app, server

        self.app, self.server = lt.run(start())
        self.port = self.server.public_port

    def apply(self, table: RouteTable) -> None:
        self.lt.call(self.app.set_table, table)

    def shadow_results(self) -> list[ShadowResult]:
        return list(self.lt.call(self.app.shadow.recent))

    def close(self) -> None:
        self.lt.run(self.server.stop())
        self.lt.run(self.app.close())


class NginxPlane:
    """nginx (a master and one worker, as a child process) on the exported configuration, reloaded per table; its
    shadow mirrors go to a `MirrorIntake` whose ProxyApp holds the same table (as `strangler proxy` would)."""

    name = "nginx"

    def __init__(self, lt: LoopThread, table: RouteTable) -> None:
        self.lt = lt
        self.nginx = find_nginx()
        self.prefix = prefix = nginx_prefix()
        self.conf = prefix / "nginx.conf"

        async def start() -> tuple[ProxyApp, ProxyServer]:
            app = ProxyApp(table)
            server = ProxyServer(public_app=MirrorIntake(app), host="127.0.0.1", port=0)
            await server.start()
            return app, server

        self.app, self.intake = lt.run(start())
        self.port = free_port()
        self.status_port = free_port()
        self.options = NginxOptions(
            listen=(f"127.0.0.1:{self.port}",),
            comparator_url=f"http://127.0.0.1:{self.intake.public_port}",
            status_listen=f"127.0.0.1:{self.status_port}",
            worker_processes="1",
        )
        self._write(table)
        self.process = subprocess.Popen(
            as_non_root([self.nginx, "-p", str(prefix), "-c", str(self.conf), "-e", "stderr", "-g", "daemon off;"]),
            stderr=subprocess.PIPE,
        )
        self._wait_for(table.version)

    def _write(self, table: RouteTable) -> None:
        self.conf.write_text(render_nginx(table, self.options, standalone=True))
        check_config(self.nginx, self.conf, self.prefix)

    def _wait_for(self, version: int) -> None:
        url = f"http://127.0.0.1:{self.status_port}/strangler/version"

        def serving() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"nginx exited: {self.process.stderr.read() if self.process.stderr else ''}")
            try:
                return httpx.get(url, timeout=1).text == str(version)
            except httpx.HTTPError:
                return False

        wait_until(serving, what=f"nginx to serve version {version}")
        # and the old workers gone: until they exit, one may still accept a connection on the old configuration
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        wait_until(lambda: len(children.read_text().split()) == 1, what="nginx's old workers to exit")

    def apply(self, table: RouteTable) -> None:
        self.lt.call(self.app.set_table, table)
        self._write(table)
        reload(self.prefix)
        self._wait_for(table.version)

    def shadow_results(self) -> list[ShadowResult]:
        return list(self.lt.call(self.app.shadow.recent))

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        if self.process.stderr:
            self.process.stderr.close()
        self.lt.run(self.intake.stop())
        self.lt.run(self.app.close())
        shutil.rmtree(self.prefix, ignore_errors=True)


def nginx_missing() -> str | None:
    if shutil.which("nginx") or os.access("/usr/sbin/nginx", os.X_OK):
        return None
    return "nginx is not installed (Debian: apt-get install nginx; .ci/run installs it)"
