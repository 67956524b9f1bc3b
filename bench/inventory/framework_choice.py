"""Which ASGI stack for the inventory service? The same small JSON endpoint backed by one psycopg query, served
by each candidate, loaded by wrk; req/s printed as ratios to Starlette on uvicorn measured in the same run.

    .venv/bin/python bench/inventory/framework_choice.py [--duration 5] [--repeat 2] [--connections 32] [--json]

Needs Debian's wrk and a PostgreSQL at STRANGLER_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/
postgres) that may create a scratch database (dropped afterwards).

Every candidate answers `GET /availability/<id>` with `{"product": <id>, "available": <n>}`, where n is one
`SELECT coalesce(sum(quantity), 0)` over a 10,000-row table, through a psycopg 3 `AsyncConnectionPool` of 4
connections, in one server process with one worker:

    starlette+uvicorn   Starlette's Router and JSONResponse on uvicorn (httptools, uvloop)
    asgi+uvicorn        a hand-written ASGI callable (no framework) on the same uvicorn
    starlette+granian   the Starlette app on granian (Rust HTTP, its own loop), the server the catalog service uses

This is a measurement, not a test: wrk, the server and PostgreSQL share a 2-core machine. Each figure is the best
of --repeat runs, interleaved across candidates so that a burst of other work does not decide a comparison.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
REFERENCE = "starlette+uvicorn"
CANDIDATES = {
    "starlette+uvicorn": ("uvicorn", "framework_choice_app:starlette_app"),
    "asgi+uvicorn": ("uvicorn", "framework_choice_app:plain_app"),
    "starlette+granian": ("granian", "framework_choice_app:starlette_app"),
}
PRODUCTS = 10_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_answering(url: str, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout}s")


@contextlib.contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    name = f"strangler_bench_inventory_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server_url.rsplit("/", 1)[0] + "/" + name
    try:
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE stock (id bigserial PRIMARY KEY, product_id bigint NOT NULL, quantity int)")
            conn.execute(
                "INSERT INTO stock (product_id, quantity) SELECT g %% %s + 1, g %% 17 FROM generate_series(1, %s) g",
                (PRODUCTS // 2, PRODUCTS),
            )
            conn.execute("CREATE INDEX ON stock (product_id)")
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def serve(candidate: str, database_url: str) -> Iterator[str]:
    server, target = CANDIDATES[candidate]
    port = free_port()
    if server == "uvicorn":
        args = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port)]
        args += ["--workers", "1", "--no-access-log", "--log-level", "warning", "--loop", "uvloop"]
        args += ["--http", "httptools"]
    else:
        args = [sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port)]
        args += ["--workers", "1", "--no-ws", "--no-access-log", "--log-level", "warning", target]
    env = {**os.environ, "BENCH_DATABASE_URL": database_url}
    process = subprocess.Popen(args, cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/availability/42"
    try:
        wait_until_answering(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def wrk(url: str, connections: int, duration: float) -> tuple[float, int]:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "5s", url]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise SystemExit(f"wrk printed no rate:\n{out}")
    errors = sum(int(m.group(1)) for m in re.finditer(r"Non-2xx or 3xx responses:\s*(\d+)", out))
    return float(found.group(1)), errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run (default 5)")
    parser.add_argument("--repeat", type=int, default=2, help="interleaved runs per candidate; the best counts")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")

    best: dict[str, float] = dict.fromkeys(CANDIDATES, 0.0)
    errors: dict[str, int] = dict.fromkeys(CANDIDATES, 0)
    with scratch_database(os.environ.get("STRANGLER_TEST_POSTGRES", DEFAULT_PG)) as database_url:
        for _ in range(options.repeat):
            for candidate in CANDIDATES:
                with serve(candidate, database_url) as url:
                    wrk(url, options.connections, 1)  # warm the pool and the server's caches
                    rps, failed = wrk(url, options.connections, options.duration)
                best[candidate] = max(best[candidate], rps)
                errors[candidate] += failed

    reference = best[REFERENCE]
    report: dict[str, Any] = {
        "connections": options.connections,
        "duration_s": options.duration,
        "reference": REFERENCE,
        "candidates": {
            name: {"rps": round(rps, 1), "ratio": round(rps / reference, 3), "errors": errors[name]}
            for name, rps in best.items()
        },
    }
    if options.json:
        print(json.dumps(report, indent=2))
        return
    print(f"GET /availability/<id> (one psycopg query), {options.connections} connections, best of {options.repeat}")
    for name, figures in report["candidates"].items():
        rps, ratio, errors = figures["rps"], figures["ratio"], figures["errors"]
        print(f"  {name:<20} {rps:>9.1f} req/s   {ratio:.2f}x {REFERENCE}   errors {errors}")


if __name__ == "__main__":
    main()
