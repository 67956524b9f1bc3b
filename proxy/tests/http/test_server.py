from __future__ import annotations

import asyncio
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import LoopThread, raw_exchange
from strangler_proxy.http.asgi import Receive, Scope, Send
from strangler_proxy.http.server import ProxyServer, ServerLimits


class Recorder:
    """A tiny ASGI app: answers with its name and the path, records lifespan events."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.events: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                self.events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/slow":
            await asyncio.sleep(0.5)
        out = f"{self.name} {scope['path']} {len(body)}".encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": out})


def get(port: int, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path)
    data = conn.getresponse().read()
    conn.close()
    return data


def test_the_public_and_admin_apps_listen_on_their_own_sockets(loop_thread: LoopThread) -> None:
    public, admin = Recorder("public"), Recorder("admin")
    server = ProxyServer(public_app=public, port=0, admin_app=admin, admin_host="127.0.0.1", admin_port=0)
    loop_thread.run(server.start())
    try:
        assert server.admin_bound_port not in (None, server.public_port)
        assert get(server.public_port, "/metrics") == b"public /metrics 0"
        assert get(server.public_port, "/admin/routes") == b"public /admin/routes 0"
        assert get(server.admin_bound_port or 0, "/metrics") == b"admin /metrics 0"
        assert public.events == ["lifespan.startup"] and admin.events == ["lifespan.startup"]
    finally:
        loop_thread.run(server.stop())
    assert public.events[-1] == "lifespan.shutdown" and admin.events[-1] == "lifespan.shutdown"


def test_an_app_without_lifespan_support_is_served(loop_thread: LoopThread) -> None:
    async def plain(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    server = ProxyServer(public_app=plain, port=0)
    loop_thread.run(server.start())
    try:
        assert raw_exchange(server.public_port, b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").startswith(
            b"HTTP/1.1 204"
        )
    finally:
        loop_thread.run(server.stop())


def test_pipelined_requests_are_answered_in_order(loop_thread: LoopThread) -> None:
    server = ProxyServer(public_app=Recorder("p"), port=0)
    loop_thread.run(server.start())
    try:
        reply = raw_exchange(
            server.public_port,
            b"GET /slow HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
            b"GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        )
    finally:
        loop_thread.run(server.stop())
    bodies = [part.split(b"\r\n\r\n", 1)[1][:20] for part in reply.split(b"HTTP/1.1 200 OK")[1:]]
    assert [b.split(b"HTTP")[0] for b in bodies] == [b"p /slow 0", b"p /b 3", b"p /c 0"]


def test_expect_100_continue_is_answered_when_the_app_reads_the_body(loop_thread: LoopThread) -> None:
    server = ProxyServer(public_app=Recorder("p"), port=0)
    loop_thread.run(server.start())
    try:
        with socket.create_connection(("127.0.0.1", server.public_port), timeout=5) as sock:
            sock.sendall(b"PUT /u HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
            sock.sendall(b"data")
            assert sock.recv(1000).endswith(b"p /u 4")
    finally:
        loop_thread.run(server.stop())


def test_stopping_lets_an_in_flight_request_finish(loop_thread: LoopThread) -> None:
    server = ProxyServer(public_app=Recorder("p"), port=0, limits=ServerLimits(shutdown_grace=5))
    loop_thread.run(server.start())
    result: list[bytes] = []
    thread = threading.Thread(target=lambda: result.append(get(server.public_port, "/slow")))
    thread.start()
    time.sleep(0.1)
    loop_thread.run(server.stop())
    thread.join()
    assert result == [b"p /slow 0"]


def test_the_proxy_process_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).parents[1] / "proxy_process.py"), "http://127.0.0.1:9"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    reply = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 502")  # nothing listens on port 9
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(10) == 0
