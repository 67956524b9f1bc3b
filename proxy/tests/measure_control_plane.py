"""Control-plane figures for the README (not a test): admin API latency and replica reload time.

    cd proxy && STRANGLER_TEST_POSTGRES=postgresql://postgres@127.0.0.1:5432/postgres \\
        ../.venv/bin/python tests/measure_control_plane.py

Two `strangler proxy` processes share one store; each change goes through the first one's admin API and is timed
until the second one's public listener routes to the new upstream.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from control_plane_helpers import ADMIN_TOKEN, proxy_process, upstream_server

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
READS = 200
CHANGES = 20


def quantile(samples: list[float], q: float) -> float:
    return sorted(samples)[int(q * (len(samples) - 1))] * 1000


def measure(store_url: str, label: str) -> None:
    common = {"STRANGLER_ROUTE_STORE": store_url, "STRANGLER_ACCESS_LOG": "0"}
    with (
        upstream_server("monolith") as monolith,
        upstream_server("catalog") as catalog,
        proxy_process(**common, STRANGLER_MONOLITH_URL=monolith) as first,
        proxy_process(**common, STRANGLER_MONOLITH_URL=monolith, STRANGLER_STORE_POLL="30") as second,
        httpx.Client(headers=AUTH) as admin,
        httpx.Client() as public,
    ):
        reads = []
        for _ in range(READS):
            started = time.perf_counter()
            admin.get(first.admin_url + "/routes")
            reads.append(time.perf_counter() - started)
        table = {
            "upstreams": {"monolith": monolith, "catalog": catalog},
            "routes": [{"path": "/api/catalog", "service": "catalog", "stage": "off"}],
        }
        version = admin.get(first.admin_url + "/routes").json()["version"]
        admin.post(first.admin_url + "/apply", json={"table": table, "expected_version": version, "reason": "bench"})
        writes, reloads = [], []
        for i in range(CHANGES):
            stage, want = ("live", "catalog") if i % 2 == 0 else ("off", "monolith")
            version = admin.get(first.admin_url + "/routes").json()["version"]
            change = {"path": "/api/catalog", "stage": stage, "reason": "bench", "expected_version": version}
            started = time.perf_counter()
            assert admin.post(first.admin_url + "/routes", json=change).status_code == 200
            writes.append(time.perf_counter() - started)
            while public.get(second.public_url + "/api/catalog").json()["upstream"] != want:
                pass
            reloads.append(time.perf_counter() - started)
    print(
        f"{label}: GET /routes p50 {quantile(reads, 0.5):.1f} ms p99 {quantile(reads, 0.99):.1f} ms | "
        f"POST /routes p50 {quantile(writes, 0.5):.1f} ms max {max(writes) * 1000:.1f} ms | "
        f"other replica rerouted p50 {quantile(reloads, 0.5):.0f} ms max {max(reloads) * 1000:.0f} ms"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        measure(os.path.join(folder, "routes.sqlite3"), "SQLite (one file)")
    server = os.environ.get("STRANGLER_TEST_POSTGRES")
    if not server:
        print("PostgreSQL: skipped (set STRANGLER_TEST_POSTGRES)")
        return
    name = f"strangler_proxy_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        measure(server.rsplit("/", 1)[0] + "/" + name, "PostgreSQL")
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'drop database "{name}" with (force)')


if __name__ == "__main__":
    main()
