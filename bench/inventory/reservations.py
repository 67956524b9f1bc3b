"""Reservations per second: the inventory service vs the monolith's endpoint, measured in the same run.

    .venv/bin/python bench/inventory/reservations.py [--duration 5] [--connections 16] [--json]

Needs Debian's wrk and PostgreSQL at STRANGLER_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/
postgres); two scratch databases are created and dropped. The monolith (granian WSGI, one worker, production
settings) and the service (its own `serve` command, one worker) each hold the same warehouse with 10⁹ units of one
product, and wrk POSTs `{"product", "warehouse", "quantity": 1}` to /api/inventory/reservations/ as staff: every
request locks the same stock row (a hot product, the contended case). The service asks the monolith's catalog
API whether the product exists on every reservation, as deployed. Three targets:

    monolith            POST with the staff token
    service             POST with the token and the identity the proxy would sign
    service+key         the same with a new Idempotency-Key per request (the key's row is written too)

This is a measurement, not a test: wrk, both servers and PostgreSQL share the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
IDENTITY_KEY = "bench-identity-key-0123456789abcdef-not-secret"
UNITS = 10**9
SEED = """
from decimal import Decimal
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from catalog import services as catalog
from inventory import services as inventory
staff = get_user_model().objects.create_user("charlie", None, None, is_staff=True)
token = Token.objects.create(user=staff).key
category = catalog.category_create(name="Bench", slug="bench", parent=None)
product = catalog.product_create(sku="HOT-1", name="Hot", slug="hot", price=Decimal("1.00"), currency="EUR",
    active=True, category=category, description="")
warehouse = inventory.warehouse_create(code="HOT", name="Hot", city="Berlin", country="DE")
inventory.stock_create(product_id=product.id, warehouse=warehouse, quantity=%d)
print(token, staff.id, product.id, warehouse.id)
"""
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
{headers}
{keyed}
"""
KEYED = """
counter = 0
request = function()
  counter = counter + 1
  local headers = {{}}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["Idempotency-Key"] = "bench-{run}-" .. counter .. "-" .. math.random(1e9)
  return wrk.format(nil, nil, headers)
end
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def scratch_databases(server: str, *names: str) -> Iterator[list[str]]:
    made = [f"strangler_bench_{name}_{secrets.token_hex(3)}" for name in names]
    with psycopg.connect(server, autocommit=True) as conn:
        for name in made:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield [server.rsplit("/", 1)[0] + "/" + name for name in made]
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            for name in made:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@contextlib.contextmanager
def serving(args: list[str], cwd: Path, env: dict[str, str], port: int) -> Iterator[str]:
    process = subprocess.Popen(
        args, cwd=cwd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{args[0]} exited with {process.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def wrk(url: str, script: str, connections: int, duration: float) -> tuple[float, int]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    args = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s", "-s", lua.name]
    out = subprocess.run([*args, url + "/api/inventory/reservations/"], capture_output=True, text=True, check=True)
    Path(lua.name).unlink()
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    if rate is None:
        raise SystemExit(f"wrk printed no rate:\n{out.stdout}{out.stderr}")
    failed = sum(int(m.group(1)) for m in re.finditer(r"Non-2xx or 3xx responses:\s*(\d+)", out.stdout))
    return float(rate.group(1)), failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--duration",
        type=float,
        default=5.0,
        help="seconds per wrk run (default 5, at most 25: a signed identity lives 30 s)",
    )
    parser.add_argument("--connections", type=int, default=16, help="concurrent buyers (default 16)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    sys.path.insert(0, str(ROOT / "extracted" / "inventory"))
    from inventory_service.identity import Identity, sign

    server = os.environ.get("STRANGLER_TEST_POSTGRES", DEFAULT_PG)
    with contextlib.ExitStack() as stack:
        monolith_db, service_db = stack.enter_context(scratch_databases(server, "monolith", "inventory"))
        monolith_env = {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DATABASE_URL": monolith_db,
            "SECRET_KEY": "bench-not-secret",
            "ALLOWED_HOSTS": "127.0.0.1",
            "STATIC_ROOT": str(Path(tempfile.mkdtemp()) / "static"),
            "LOG_LEVEL": "WARNING",
        }
        run([sys.executable, "manage.py", "migrate", "--noinput"], ROOT / "monolith", monolith_env)
        seeded = run(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", SEED % UNITS], ROOT / "monolith", monolith_env
        )
        token, staff_id, product_id, warehouse_id = seeded.split()[-4:]
        run(
            [sys.executable, "-m", "inventory_service", "migrate"],
            ROOT / "extracted" / "inventory",
            {"DATABASE_URL": service_db},
        )
        with psycopg.connect(service_db) as conn:
            conn.execute(
                "INSERT INTO inventory_warehouse (id, code, name, city, country, active, created_at, updated_at)"
                " VALUES (%s, 'HOT', 'Hot', 'Berlin', 'DE', true, now(), now())",
                (int(warehouse_id),),
            )
            conn.execute(
                "INSERT INTO inventory_stock (product_id, warehouse_id, quantity, created_at, updated_at)"
                " VALUES (%s, %s, %s, now(), now())",
                (int(product_id), int(warehouse_id), UNITS),
            )

        monolith_port, service_port = free_port(), free_port()
        granian = [
            str(VENV_BIN / "granian"),
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(monolith_port),
        ]
        monolith = stack.enter_context(
            serving(
                [*granian, "--workers", "1", "--no-access-log", "config.wsgi:application"],
                ROOT / "monolith",
                monolith_env,
                monolith_port,
            )
        )
        service_env = {
            "DATABASE_URL": service_db,
            "STRANGLER_IDENTITY_KEY": IDENTITY_KEY,
            "CATALOG_URL": monolith,
            "ALLOWED_HOSTS": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
        }
        service = stack.enter_context(
            serving(
                [sys.executable, "-m", "inventory_service", "serve", "--port", str(service_port)],
                ROOT / "extracted" / "inventory",
                service_env,
                service_port,
            )
        )
        body = json.dumps({"product": int(product_id), "warehouse": int(warehouse_id), "quantity": 1})
        now = int(time.time())
        auth = f'wrk.headers["Authorization"] = "Token {token}"'

        def signed() -> str:
            """Signed afresh for each wrk run (a v2 identity lives 30 s at most; the proxy signs per request)."""
            issued = int(time.time())
            identity = sign(
                Identity(int(staff_id), "charlie", True, issued, issued + 30, "inventory"), key=IDENTITY_KEY
            )
            return f'{auth}\nwrk.headers["X-Strangler-Identity"] = "{identity}"'

        targets = {
            "monolith": (monolith, lambda: WRK_SCRIPT.format(body=body, headers=auth, keyed="")),
            "service": (service, lambda: WRK_SCRIPT.format(body=body, headers=signed(), keyed="")),
            "service+key": (
                service,
                lambda: WRK_SCRIPT.format(body=body, headers=signed(), keyed=KEYED.format(run=now)),
            ),
        }
        figures = {}
        for name, (url, script) in targets.items():
            wrk(url, script(), options.connections, 1)  # warm up
            rps, failed = wrk(url, script(), options.connections, min(options.duration, 25))
            figures[name] = {"reservations_per_s": round(rps, 1), "non_2xx": failed}
        for name in figures:
            figures[name]["ratio_to_monolith"] = round(
                figures[name]["reservations_per_s"] / figures["monolith"]["reservations_per_s"], 2
            )
        with psycopg.connect(monolith_db) as m, psycopg.connect(service_db) as s:
            query = "SELECT count(*) FROM inventory_reservation"
            made = {"monolith": m.execute(query).fetchone()[0], "service": s.execute(query).fetchone()[0]}

    report = {
        "connections": options.connections,
        "duration_s": options.duration,
        "targets": figures,
        "reservations_made": made,
    }
    if options.json:
        print(json.dumps(report, indent=2))
        return
    print(f"POST /api/inventory/reservations/ (one hot stock row), {options.connections} connections")
    for name, row in figures.items():
        rate, ratio, failed = row["reservations_per_s"], row["ratio_to_monolith"], row["non_2xx"]
        print(f"  {name:<12} {rate:>8.1f} reservations/s   {ratio:.2f}x monolith   non-2xx {failed}")
    print(f"  rows made: monolith {made['monolith']}, service {made['service']}")


if __name__ == "__main__":
    main()
