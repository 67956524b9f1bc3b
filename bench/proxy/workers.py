"""Benchmark: `strangler proxy --workers 1` vs `--workers 2` (replicas sharing one PostgreSQL store and the port
through SO_REUSEPORT), each as a ratio to nginx with the same number of worker processes, in one run.

    .venv/bin/python bench/proxy/workers.py [--duration 3] [--repeat 2] [--connections 32] [--json]
    (make bench-proxy runs it after run.py)

The upstream is nginx answering a small static response (two workers, so it is not the ceiling). The proxies are
the real `strangler proxy` (access log off, comparison off, the default route to the upstream, a scratch database
on STRANGLER_TEST_POSTGRES) and nginx proxying with keep-alive to the same upstream. wrk, the upstream and the
proxy share the machine's cores: on 2 cores, a second worker buys less than 2x because wrk and the upstream take
CPU too; the ratio to nginx with as many workers is what says whether Strangler scales as an edge proxy does.
Each figure is the best of `--repeat` runs, interleaved across targets.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import BODY, PROXY_SERVER, UPSTREAM_SERVER, free_port, nginx, wait_port, wrk  # noqa: E402

POSTGRES = os.environ.get("STRANGLER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
STRANGLER = str(Path(sys.executable).parent / "strangler")
TOKEN = "bench-admin-token-" + "x" * 32
PATH = "/api/items/1"


@contextlib.contextmanager
def scratch_database() -> Iterator[str]:
    name = f"strangler_bench_replicas_{secrets.token_hex(3)}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        yield POSTGRES.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


@contextlib.contextmanager
def strangler(workers: int, upstream: str, store: str) -> Iterator[int]:
    port, admin = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRANGLER_")}
    env.update(
        STRANGLER_LISTEN=f"127.0.0.1:{port}",
        STRANGLER_ADMIN_LISTEN=f"127.0.0.1:{admin}",
        STRANGLER_ADMIN_TOKEN=TOKEN,
        STRANGLER_ROUTE_STORE=store,
        STRANGLER_MONOLITH_URL=upstream,
        STRANGLER_IDENTITY_KEY="bench-identity-key-" + "y" * 32,
        STRANGLER_ACCESS_LOG="0",
        STRANGLER_COMPARE="0",
        STRANGLER_LOG_LEVEL="error",
        STRANGLER_WORKERS=str(workers),
        STRANGLER_REPLICA_ID=f"bench-{workers}",
    )
    proc = subprocess.Popen([STRANGLER, "proxy"], env=env, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, 30)
        deadline = time.monotonic() + 30
        while live_replicas(admin) < workers:  # every worker serves before anything is measured
            if time.monotonic() > deadline:
                raise SystemExit(f"strangler proxy --workers {workers}: not every worker came up")
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(30)


def live_replicas(admin: int) -> int:
    with contextlib.suppress(httpx.HTTPError, ValueError):
        answer = httpx.get(
            f"http://127.0.0.1:{admin}/holds", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2
        ).json()
        return sum(1 for r in answer.get("replicas", []) if r["live"])
    return 0


def measure(duration: float, repeat: int, connections: int) -> list[dict[str, object]]:
    up, ngx1, ngx2 = free_port(), free_port(), free_port()
    body = BODY.replace("'", "\\'")
    with contextlib.ExitStack() as stack:
        stack.enter_context(nginx(UPSTREAM_SERVER.format(port=up, body=body), 2))
        stack.enter_context(nginx(PROXY_SERVER.format(port=ngx1, upstream=up), 1))
        stack.enter_context(nginx(PROXY_SERVER.format(port=ngx2, upstream=up), 2))
        for port in (up, ngx1, ngx2):
            wait_port(port)
        upstream = f"http://127.0.0.1:{up}"
        s1 = stack.enter_context(strangler(1, upstream, stack.enter_context(scratch_database())))
        s2 = stack.enter_context(strangler(2, upstream, stack.enter_context(scratch_database())))
        targets = {("nginx", 1): ngx1, ("nginx", 2): ngx2, ("strangler", 1): s1, ("strangler", 2): s2}
        best: dict[tuple[str, int], tuple[float, float, float, int]] = {}
        for _ in range(repeat):
            for key, port in targets.items():
                got = wrk(f"http://127.0.0.1:{port}{PATH}", connections, duration)
                if key not in best or got[0] > best[key][0]:
                    best[key] = got
    return [
        {
            "target": name,
            "workers": workers,
            "connections": connections,
            "rps": round(rps),
            "p50_ms": p50,
            "p99_ms": p99,
            "errors": errors,
            "x_nginx_same_workers": round(rps / best[("nginx", workers)][0], 2),
            "x_own_1_worker": round(rps / best[(name, 1)][0], 2),
        }
        for (name, workers), (rps, p50, p99, errors) in best.items()
    ]


def report(results: list[dict[str, object]], load_before: float) -> None:
    print(
        f"\n1 vs 2 workers ({os.cpu_count()} CPUs, load {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; "
        f"{results[0]['connections']} connections):"
    )
    print(f"{'target':<10} {'workers':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'x nginx':>8} {'x 1w':>6}")
    for r in results:
        print(
            f"{r['target']:<10} {r['workers']:>7} {r['rps']:>9} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f} "
            f"{r['x_nginx_same_workers']:>8.2f} {r['x_own_1_worker']:>6.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per wrk run (default 3)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per target, best kept (default 2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install -y nginx wrk")
    load_before = os.getloadavg()[0]
    results = measure(args.duration, args.repeat, args.connections)
    report(results, load_before)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
