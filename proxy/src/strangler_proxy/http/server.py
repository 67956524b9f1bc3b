"""Serving: the public proxy listener and, optionally, the admin app, in one process and one event loop.

Entry points::

    await serve(public_app=app, host="0.0.0.0", port=8080,
                admin_app=admin, admin_host="127.0.0.1", admin_port=8081,
                install_signal_handlers=True, ready=event)   # returns after SIGINT/SIGTERM or `stop()`
    run(public_app=app, host=..., port=...)                  # the same, blocking, on uvloop when installed

For tests and embedding, `ProxyServer` gives the bound ports (pass port 0 for an ephemeral one)::

    server = ProxyServer(public_app=app, host="127.0.0.1", port=0)
    await server.start(); server.public_port; ...; await server.stop()

Both listeners use the strict HTTP/1.1 protocol of `protocol.py` (see there for what it rejects). The admin listener
is a separate socket, so nothing reachable through the public listener can reach the admin app. Each app gets the
ASGI lifespan protocol (startup before the listeners open, shutdown after they close) if it supports it.
On stop, listeners close, in-flight requests get `ServerLimits.shutdown_grace` seconds, then connections are cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from strangler_proxy.http.asgi import ASGIApp, Message
from strangler_proxy.http.limits import ServerLimits
from strangler_proxy.http.protocol import ConnectionRegistry, HttpProtocol

log = logging.getLogger("strangler.server")

__all__ = ["ProxyServer", "ServerLimits", "run", "serve"]


class _Lifespan:
    """Drives one app's ASGI lifespan; apps that do not speak it are served anyway."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.queue: asyncio.Queue[Message] = asyncio.Queue()
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()
        self.failure: str | None = None
        self.task: asyncio.Task[None] | None = None
        self.supported = True

    async def startup(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._main())
        await self.queue.put({"type": "lifespan.startup"})
        await self.started.wait()
        if self.failure is not None:
            raise RuntimeError(f"ASGI app failed to start: {self.failure}")

    async def shutdown(self) -> None:
        if self.task is None or not self.supported:
            return
        await self.queue.put({"type": "lifespan.shutdown"})
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.stopped.wait(), 10)

    async def _main(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        try:
            await self.app(scope, self.queue.get, self._send)
        except BaseException as exc:
            if not self.started.is_set():
                self.supported = False  # the app does not do lifespan: that is allowed
                log.debug("lifespan not supported by %r: %s", self.app, exc)
            elif not isinstance(exc, asyncio.CancelledError):
                log.exception("error in ASGI lifespan")
        finally:
            self.started.set()
            self.stopped.set()

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            self.started.set()
        elif kind == "lifespan.startup.failed":
            self.failure = str(message.get("message", ""))
            self.started.set()
        elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            self.stopped.set()


class ProxyServer:
    def __init__(
        self,
        *,
        public_app: ASGIApp,
        host: str = "127.0.0.1",
        port: int = 8080,
        admin_app: ASGIApp | None = None,
        admin_host: str | None = None,
        admin_port: int | None = None,
        limits: ServerLimits | None = None,
        backlog: int = 2048,
        reuse_port: bool = False,
    ) -> None:
        if admin_app is not None and admin_port is None:
            raise ValueError("admin_app needs admin_port")
        self.public_app = public_app
        self.admin_app = admin_app
        self.host = host
        self.port = port
        self.admin_host = admin_host or "127.0.0.1"
        self.admin_port = admin_port
        self.limits = limits or ServerLimits()
        self.backlog = backlog
        self.reuse_port = reuse_port  # SO_REUSEPORT: several processes share the ports, the kernel spreads connections
        self._servers: list[asyncio.Server] = []
        self._registries: list[ConnectionRegistry] = []
        self._lifespans: list[_Lifespan] = []
        self._stop_requested = asyncio.Event()
        self._stop_task: asyncio.Task[None] | None = None
        self.public_port = 0
        self.admin_bound_port: int | None = None

    async def start(self) -> None:
        apps = [self.public_app] + ([self.admin_app] if self.admin_app is not None else [])
        for app in apps:
            lifespan = _Lifespan(app)
            await lifespan.startup()
            self._lifespans.append(lifespan)
        self.public_port = await self._listen(self.public_app, self.host, self.port)
        if self.admin_app is not None:
            assert self.admin_port is not None
            self.admin_bound_port = await self._listen(self.admin_app, self.admin_host, self.admin_port)

    async def _listen(self, app: ASGIApp, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        registry = ConnectionRegistry()
        limits = self.limits
        server = await loop.create_server(
            lambda: HttpProtocol(app, limits, registry),
            host,
            port,
            backlog=self.backlog,
            reuse_address=True,
            reuse_port=self.reuse_port or None,
        )
        for sock in server.sockets:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._servers.append(server)
        self._registries.append(registry)
        bound: Any = server.sockets[0].getsockname()
        return int(bound[1])

    def request_stop(self) -> None:
        self._stop_requested.set()

    async def stop(self) -> None:
        """Close the listeners, let in-flight requests finish (bounded), run lifespan shutdown. Idempotent."""
        self._stop_requested.set()
        if self._stop_task is None:
            self._stop_task = asyncio.get_running_loop().create_task(self._stop())
        await asyncio.shield(self._stop_task)

    async def _stop(self) -> None:
        for server in self._servers:
            server.close()
        await asyncio.gather(*(r.shutdown(self.limits.shutdown_grace) for r in self._registries))
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1)
        for lifespan in reversed(self._lifespans):
            await lifespan.shutdown()

    async def wait_stop_requested(self) -> None:
        await self._stop_requested.wait()


async def serve(
    *,
    public_app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 8080,
    admin_app: ASGIApp | None = None,
    admin_host: str | None = None,
    admin_port: int | None = None,
    install_signal_handlers: bool = True,
    ready: asyncio.Event | None = None,
    limits: ServerLimits | None = None,
    on_started: Callable[[ProxyServer], Awaitable[None] | None] | None = None,
    reuse_port: bool = False,
) -> None:
    """Serve until SIGINT/SIGTERM (when `install_signal_handlers`) or until the task is cancelled."""
    server = ProxyServer(
        public_app=public_app,
        host=host,
        port=port,
        admin_app=admin_app,
        admin_host=admin_host,
        admin_port=admin_port,
        limits=limits,
        reuse_port=reuse_port,
    )
    loop = asyncio.get_running_loop()
    await server.start()
    log.info(
        "serving the proxy on %s:%d%s",
        host,
        server.public_port,
        f", admin on {server.admin_host}:{server.admin_bound_port}" if admin_app is not None else "",
    )
    installed: list[signal.Signals] = []
    if install_signal_handlers:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, server.request_stop)
                installed.append(sig)
    try:
        if on_started is not None:
            result = on_started(server)
            if result is not None:
                await result
        if ready is not None:
            ready.set()
        await server.wait_stop_requested()
    finally:
        await server.stop()
        for sig in installed:
            loop.remove_signal_handler(sig)


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(**kwargs: Any) -> None:
    """Blocking `serve(**kwargs)` on uvloop (when installed)."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(serve(**kwargs))
