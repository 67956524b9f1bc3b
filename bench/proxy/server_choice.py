"""Which server? The malformed requests of `proxy/tests/test_malformed_http.py` sent to granian and to
Strangler's own server, each running the same trivial ASGI app that answers 200 "reached the app".

    python bench/proxy/server_choice.py      # prints, per request, whether each server refused it

A request that reaches the app would have been passed on to an upstream by a proxy built on that server.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "proxy" / "tests"))


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"15")]})
    await send({"type": "http.response.body", "body": b"reached the app"})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(data)
        out = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):
                out += chunk
        return out


@contextlib.contextmanager
def server(kind: str, port: int) -> Any:
    if kind == "granian":
        cmd = [sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port)]
        cmd += ["--workers", "1", "--no-ws", "server_choice:app"]
    else:
        code = (
            "from strangler_proxy.http.server import run; from server_choice import app; "
            f"run(public_app=app, port={port})"
        )
        cmd = [sys.executable, "-c", code]
    proc = subprocess.Popen(cmd, cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            break
        time.sleep(0.1)
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    from test_malformed_http import SMUGGLING

    cases = dict(SMUGGLING)
    cases["oversized header (50 KB)"] = b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * 50_000 + b"\r\n\r\n"
    cases["150 headers"] = (
        b"GET / HTTP/1.1\r\nHost: h\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(150)) + b"\r\n"
    )
    verdicts: dict[str, dict[str, str]] = {}
    for kind in ("strangler", "granian"):
        port = free_port()
        with server(kind, port):
            for name, data in cases.items():
                reply = exchange(port, data)
                status = reply.split(b" ", 2)[1].decode() if reply.startswith(b"HTTP/") else "closed"
                verdicts.setdefault(name, {})[kind] = (
                    "PASSED ON" if b"reached the app" in reply else f"refused {status}"
                )
    print(f"{'request':<50} {'strangler':<14} granian")
    for name, v in verdicts.items():
        print(f"{name:<50} {v['strangler']:<14} {v['granian']}")
    for kind in ("strangler", "granian"):
        passed = sum(v[kind] == "PASSED ON" for v in verdicts.values())
        print(f"{kind}: {passed} of {len(verdicts)} malformed requests reached the app")


if __name__ == "__main__":
    main()
