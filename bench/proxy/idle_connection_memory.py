"""Benchmark: what an idle keep-alive connection costs the proxy's server in memory, this checkout against another
checkout (the reference), in the same run.

    .venv/bin/python bench/proxy/idle_connection_memory.py --reference-checkout CHECKOUT [--connections 4000]
        [--repeat 3] [--json]

Each checkout's own `.venv/bin/python` (its compiled build when `make venv` made one) runs its own `HttpProtocol`
(`strangler_proxy.http.server.serve`) in front of a minimal ASGI app, with a keep-alive timeout long enough for
the whole measurement. The benchmark opens `--connections` connections, sends one GET on each and reads its answer,
so that every connection has served a request and waits for the next; the server's resident memory (VmRSS from
/proc) before the connections and after, over their number, is the cost of one idle connection. Runs alternate
between the two checkouts (ABAB...); printed: each run's figure and the medians. The kernel's socket buffers are
not counted (they are not the process's memory). A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

SERVER = r"""
import asyncio, sys
from strangler_proxy.http.limits import ServerLimits
from strangler_proxy.http.server import new_event_loop, serve
from strangler_proxy import compiled

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].replace("lifespan.", "")
            await send({"type": "lifespan." + kind + ".complete"})
            if kind == "shutdown":
                return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})

def started(server):
    print(server.public_port, compiled.status(), flush=True)

limits = ServerLimits(keepalive_timeout=600.0, header_timeout=600.0, max_connections=100_000)
with asyncio.Runner(loop_factory=new_event_loop) as runner:
    runner.run(serve(public_app=app, port=0, limits=limits, on_started=started))
"""
REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def one_run(python: Path, connections: int) -> tuple[float, str]:
    """Bytes of resident memory per idle connection that served one request, and which build ran."""
    proc = subprocess.Popen([str(python), "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port_text, build = proc.stdout.readline().split(" ", 1)
        port = int(port_text)
        warm = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
        for sock in warm:  # the first requests allocate what every later one reuses (caches, free lists)
            sock.sendall(REQUEST)
            sock.recv(4096)
        before = rss_kib(proc.pid)
        socks = []
        for _ in range(connections):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(REQUEST)
            socks.append(sock)
        for sock in socks:
            answer = sock.recv(4096)
            if not answer.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"unexpected answer {answer[:40]!r}")
        after = rss_kib(proc.pid)
        for sock in warm + socks:
            sock.close()
        return (after - before) * 1024 / connections, build.strip()
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference-checkout", type=Path, required=True)
    parser.add_argument("--connections", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < options.connections + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, options.connections + 1000), hard))
    pythons = {"this": ROOT / ".venv/bin/python", "reference": options.reference_checkout / ".venv/bin/python"}
    runs: dict[str, list[float]] = {"this": [], "reference": []}
    builds: dict[str, str] = {}
    for _ in range(options.repeat):
        for name, python in pythons.items():
            per_connection, builds[name] = one_run(python, options.connections)
            runs[name].append(per_connection)
    result = {
        name: {"bytes_per_connection": runs[name], "median": statistics.median(runs[name]), "build": builds[name]}
        for name in runs
    }
    result["load_average"] = os.getloadavg()  # type: ignore[assignment]
    if options.json:
        print(json.dumps(result, indent=1))
        return 0
    for name in runs:
        figures = ", ".join(f"{v:,.0f}" for v in runs[name])
        print(f"{name:>9}: median {result[name]['median']:,.0f} bytes per idle connection ({figures}); {builds[name]}")
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
