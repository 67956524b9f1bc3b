"""Helpers shared by the control-plane tests: a real server for the admin app, the test token."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

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
    from strangler_proxy.server import ProxyServer

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
