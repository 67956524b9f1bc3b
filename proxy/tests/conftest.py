from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import http.client
import socket
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from strangler_proxy.dataplane.app import ProxyApp
from strangler_proxy.dataplane.identity import IdentitySigner
from strangler_proxy.dataplane.model import Route, RouteTable
from strangler_proxy.dataplane.model import Upstream as UpstreamConfig
from strangler_proxy.dataplane.settings import ProxySettings
from strangler_proxy.http.server import ProxyServer, ServerLimits, new_event_loop
from upstream_double import Upstream

T = TypeVar("T")

# What `strangler proxy` requires besides whatever setting a test is about (Settings.load checks every one).
REQUIRED_SETTINGS = {"STRANGLER_ADMIN_TOKEN": "t" * 32, "STRANGLER_IDENTITY_KEY": "k" * 32}


class LoopThread:
    """An event loop on a thread of its own: servers live there, tests talk to them with blocking clients."""

    def __init__(self) -> None:
        self.loop = new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Any, *args: Any) -> Any:
        async def wrapper() -> Any:
            return fn(*args)

        return self.run(wrapper())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    lt = LoopThread()
    yield lt
    lt.close()


@dataclass
class Stack:
    """Upstreams `monolith` and `catalog` and a proxy in front of them, all on loopback."""

    lt: LoopThread
    monolith: Upstream
    catalog: Upstream
    app: ProxyApp
    server: ProxyServer
    extra: list[Any] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.public_port

    def table(self, *routes: Route, version: int = 2, **upstream_opts: Any) -> RouteTable:
        return make_table(self.monolith.url, self.catalog.url, routes, version=version, **upstream_opts)

    def set_routes(self, *routes: Route, **upstream_opts: Any) -> None:
        table = self.table(*routes, version=self.app.table.version + 1, **upstream_opts)
        self.lt.call(self.app.set_table, table)

    def request(
        self, method: str, target: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.request(method, target, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def client(self) -> KeepAliveClient:
        return KeepAliveClient(self.port)

    def raw(self, data: bytes, timeout: float = 5) -> bytes:
        return raw_exchange(self.port, data, timeout)

    def drain_shadow(self) -> None:
        self.lt.run(self.app.shadow.drain())


class KeepAliveClient:
    """One keep-alive connection to the proxy for many quick requests."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)

    def request(
        self, method: str, target: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        self.conn.request(method, target, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def close(self) -> None:
        self.conn.close()


def raw_exchange(port: int, data: bytes, timeout: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks)


def make_table(
    monolith_url: str, catalog_url: str, routes: tuple[Route, ...], version: int = 1, **upstream_opts: Any
) -> RouteTable:
    return RouteTable(
        version=version,
        upstreams={
            "monolith": UpstreamConfig("monolith", monolith_url, **upstream_opts),
            "catalog": UpstreamConfig("catalog", catalog_url, **upstream_opts),
        },
        routes=routes,
    )


def start_stack(
    lt: LoopThread,
    routes: tuple[Route, ...] = (),
    settings: ProxySettings | None = None,
    limits: ServerLimits | None = None,
    monolith_url: str | None = None,
    identity: IdentitySigner | None = None,
    **upstream_opts: Any,
) -> Stack:
    """Upstream doubles `monolith` and `catalog` and a proxy in front; `monolith_url` puts another server (a WSGI
    one, say) where the monolith double would be (the double still runs, unused)."""

    async def start() -> Stack:
        monolith, catalog = Upstream("monolith"), Upstream("catalog")
        await monolith.start()
        await catalog.start()
        table = make_table(monolith_url or monolith.url, catalog.url, routes, **upstream_opts)
        app = ProxyApp(table, settings or ProxySettings(), identity=identity)
        server = ProxyServer(public_app=app, host="127.0.0.1", port=0, limits=limits or ServerLimits(shutdown_grace=1))
        await server.start()
        return Stack(lt, monolith, catalog, app, server)

    return lt.run(start())


def stop_stack(stack: Stack) -> None:
    async def stop() -> None:
        await stack.server.stop()
        await stack.monolith.stop()
        await stack.catalog.stop()

    with contextlib.suppress(concurrent.futures.TimeoutError):
        stack.lt.run(stop(), timeout=20)


@pytest.fixture
def stack(loop_thread: LoopThread) -> Iterator[Stack]:
    s = start_stack(loop_thread)
    yield s
    stop_stack(s)
