"""Benchmark: nginx driven by Strangler (the configuration `strangler routes export --format nginx` renders) vs
plain nginx proxying to the same upstream, measured in the same run with wrk.

Both are one nginx worker each, in front of the same fast static upstream (nginx itself): plain nginx in run.py's
NGINX_CONF, the exported one on the whole nginx.conf `--standalone` renders (what `strangler nginx sync` installs).
The exported configuration is the route table below: twelve routes, the requested one last in precedence, on a
canary of 50% sticky on a header (so the route map's regular expressions, the stage map and `split_clients` are
all evaluated per request); the monolith and the service are two equal upstreams. Plain nginx is run.py's
`PROXY_SERVER`: one `location /` with `proxy_pass`. Printed per concurrency: req/s, p50 and p99 of each, and the
ratio exported / plain (best of --repeat interleaved runs); then each nginx's CPU time per request (master and
worker, from /proc, the least of --repeat runs at 32 connections), which a busy machine disturbs less.

    .venv/bin/python bench/proxy/nginx_export.py [--duration 3] [--repeat 3] [--connections 8,32,128]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (
    BODY,
    PROXY_SERVER,
    UPSTREAM_SERVER,
    cpu_per_request,
    free_port,
    nginx,
    nginx_conf,
    wait_port,
    wrk,
)
from strangler_proxy.dataplane.model import Route, RouteTable, Stage, StickyKey, Upstream
from strangler_proxy.edge.nginx_config import NginxOptions, render_nginx

PATH = "/api/items/1"


def table(monolith: int, service: int) -> RouteTable:
    others = [Route(f"/api/other{n}/deeper/still", "catalog", Stage.LIVE) for n in range(11)]
    items = Route("/api/items", "catalog", Stage.CANARY, percent=50, sticky=StickyKey("header", "X-Client"))
    return RouteTable(
        version=1,
        upstreams={
            "monolith": Upstream("monolith", f"http://127.0.0.1:{monolith}"),
            "catalog": Upstream("catalog", f"http://127.0.0.1:{service}"),
        },
        routes=(*others, items),
    )


@contextlib.contextmanager
def standalone(conf_text: str) -> Iterator[int]:
    """nginx on the whole nginx.conf `strangler nginx sync` would install (`--standalone`), with its own prefix."""
    with nginx_conf(lambda _prefix: conf_text, 1, "-g", "daemon off;") as pid:
        yield pid


def header_script() -> str:
    fd, path = tempfile.mkstemp(suffix=".lua")
    os.write(fd, b'wrk.headers["X-Client"] = "bench-client-7"\n')
    os.close(fd)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", default="8,32,128")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install -y nginx wrk")
    up, up2, plain, exported = free_port(), free_port(), free_port(), free_port()
    upstreams = UPSTREAM_SERVER.format(port=up, body=BODY) + UPSTREAM_SERVER.format(port=up2, body=BODY)
    options = NginxOptions(
        listen=(f"127.0.0.1:{exported}",),
        keepalive=256,
        worker_processes="1",
        user="root" if os.geteuid() == 0 else None,  # as run.py: workers must reach the temporary prefix
    )
    rendered = render_nginx(table(up, up2), options, standalone=True)
    script = header_script()
    results: dict[int, dict[str, tuple[float, float, float, int]]] = {}
    cpu: dict[str, float] = {}
    with (
        nginx(upstreams),
        nginx(PROXY_SERVER.format(port=plain, upstream=up)) as plain_pid,
        standalone(rendered) as exported_pid,
    ):
        for port in (up, up2, plain, exported):
            wait_port(port)
        targets = {"plain": f"http://127.0.0.1:{plain}{PATH}", "exported": f"http://127.0.0.1:{exported}{PATH}"}
        for url in targets.values():
            wrk(url, 32, 1, script)
        for c in (int(x) for x in args.connections.split(",")):
            runs: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name in targets}
            for _ in range(args.repeat):
                for name, url in targets.items():
                    runs[name].append(wrk(url, c, args.duration, script))
            results[c] = {name: max(measured) for name, measured in runs.items()}
        pids = {"plain": plain_pid, "exported": exported_pid}
        for name, url in targets.items():  # CPU per request of that nginx (master + worker): steadier under load
            cpu[name] = min(
                cpu_per_request(url, 32, args.duration, {name: pids[name]})[name] for _ in range(args.repeat)
            )
    os.unlink(script)
    load = os.getloadavg()[0]
    print(
        f"nginx driven by Strangler (exported config: 12 routes, canary 50%) vs plain nginx, best of {args.repeat}; "
        f"load average {load:.1f} on {os.cpu_count()} cores"
    )
    print(f"{'conns':>5} {'plain req/s':>12} {'exported req/s':>15} {'ratio':>6} {'p50 ms':>13} {'p99 ms':>13}")
    for c, r in results.items():
        p, e = r["plain"], r["exported"]
        latency = f"{p[1]:>6.3f}/{e[1]:<6.3f} {p[2]:>6.3f}/{e[2]:<6.3f}"
        print(f"{c:>5} {p[0]:>12.0f} {e[0]:>15.0f} {e[0] / p[0]:>6.2f} {latency}")
    print(
        f"CPU per request at 32 connections: plain {cpu['plain']:.1f} us, exported {cpu['exported']:.1f} us "
        f"(plain / exported {cpu['plain'] / cpu['exported']:.2f}x)"
    )
    if args.json:
        print(
            json.dumps(
                {
                    str(c): {n: {"rps": v[0], "p50_ms": v[1], "p99_ms": v[2]} for n, v in r.items()}
                    for c, r in results.items()
                }
            )
        )


if __name__ == "__main__":
    main()
