"""Which HTTP client should forward? The same minimal forwarding ASGI app (GET, no body, headers passed) on the
same server, once with Strangler's httptools client (`strangler_proxy.http.client`) and once with aiohttp.

    python bench/proxy/client_choice.py UPSTREAM_URL    # prints req/s and CPU µs/request for each, via wrk

Needs wrk. The result picked the client in `upstream.py` (see proxy/README.md).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def forwarder(kind: str, upstream_url: str) -> Any:
    state: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        target = scope["raw_path"] + (b"?" + scope["query_string"] if scope["query_string"] else b"")
        if kind == "strangler":
            from strangler_proxy.dataplane.model import Upstream
            from strangler_proxy.http.client import UpstreamPool

            pool = state.get("pool") or state.setdefault("pool", UpstreamPool(Upstream("u", upstream_url)))
            resp = await pool.request(scope["method"], target, list(scope["headers"]))
            await send({"type": "http.response.start", "status": resp.status, "headers": resp.headers})
            async for chunk in resp.chunks():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            resp.release()
            await send({"type": "http.response.body", "body": b""})
        else:
            import aiohttp
            import yarl

            session = state.get("session")
            if session is None:
                session = state["session"] = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=256), auto_decompress=False
                )
            url = yarl.URL(upstream_url + target.decode("latin-1"), encoded=True)
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
            async with session.request(scope["method"], url, headers=headers, skip_auto_headers=("User-Agent",)) as r:
                out = [(k, v) for k, v in r.raw_headers]
                await send({"type": "http.response.start", "status": r.status, "headers": out})
                async for chunk in r.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})

    return app


def serve(kind: str, port: int, upstream_url: str) -> None:
    from strangler_proxy.http.server import run

    run(public_app=forwarder(kind, upstream_url), host="127.0.0.1", port=port)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def process(kind: str, port: int, upstream_url: str) -> Iterator[int]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, str(port), upstream_url], stderr=subprocess.DEVNULL
    )
    for _ in range(100):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            break
        time.sleep(0.05)
    try:
        yield proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    upstream_url = sys.argv[1]
    for round_ in range(2):
        for kind in ("strangler", "aiohttp"):
            port = free_port()
            with process(kind, port, upstream_url) as pid:
                url = f"http://127.0.0.1:{port}/api/items/1"
                subprocess.run(["wrk", "-t1", "-c32", "-d1s", url], capture_output=True, check=True)
                before = cpu(pid)
                out = subprocess.run(["wrk", "-t1", "-c32", "-d5s", url], capture_output=True, text=True).stdout
                used = cpu(pid) - before
                rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
                print(f"round {round_ + 1} {kind:<10} {rps:>8.0f} req/s  {used / (rps * 5) * 1e6:>6.0f} µs CPU/request")


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
