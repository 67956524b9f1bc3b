"""The service as it runs: a scratch PostgreSQL database migrated by the service's own command, a real server
process on a loopback port, and a catalog on another port that answers product lookups the way the catalog API
does (the one network seam the service has). Personas arrive with identities signed as the proxy signs them."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psycopg
import pytest

from inventory_service.identity import Identity, sign

SERVICE = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
IDENTITY_KEY = "inventory-tests-identity-key-0123456789abcdef"
PUBLIC_HOST = "shop.test"
STAFF_TOKEN = "staff-token"
ACTIVE_PRODUCTS = {101, 102, 103}
INACTIVE_PRODUCTS = {201}
TABLES = "inventory_reservation, inventory_stock, inventory_warehouse, inventory_idempotency_key, inventory_order_hold"


@dataclass(frozen=True)
class Persona:
    id: int
    name: str
    is_staff: bool
    token: str


PERSONAS = {
    "alice": Persona(1, "alice", False, "alice-token"),  # a customer
    "bob": Persona(2, "bob", False, "bob-token"),  # another customer
    "charlie": Persona(3, "charlie", True, STAFF_TOKEN),  # staff
}


def postgres_server() -> str:
    return os.environ.get("STRANGLER_TEST_POSTGRES") or DEFAULT_PG


def _reachable(url: str) -> str | None:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def signed(
    persona: Persona,
    *,
    key: str = IDENTITY_KEY,
    issued_at: int | None = None,
    seconds: int = 30,
    audience: str = "inventory",
) -> str:
    now = int(time.time()) if issued_at is None else issued_at
    return sign(Identity(persona.id, persona.name, persona.is_staff, now, now + seconds, audience), key=key)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    server = postgres_server()
    problem = _reachable(server)
    if problem:
        pytest.skip(f"the inventory service's tests need PostgreSQL at {server} ({problem})")
    name = f"strangler_inventory_test_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    try:
        done = run_command(["migrate"], {"DATABASE_URL": url})
        assert done.returncode == 0, done.stderr
        yield url
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_command(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "STRANGLER_IDENTITY_KEY")}
    return subprocess.run(
        [sys.executable, "-m", "inventory_service", *args],
        cwd=SERVICE,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


class _CatalogHandler(BaseHTTPRequestHandler):
    """`GET /api/catalog/products/<id>/`: 200 for an active product, or any product for staff; else 404."""

    calls: list[str] = []
    answer_with: int | None = None  # force a status (a failing catalog)

    def do_GET(self) -> None:
        type(self).calls.append(self.path)
        found = re.fullmatch(r"/api/catalog/products/(\d+)/", self.path)
        staff = self.headers.get("Authorization") == f"Token {STAFF_TOKEN}"
        visible = bool(found) and (
            int(found.group(1)) in ACTIVE_PRODUCTS or (staff and int(found.group(1)) in INACTIVE_PRODUCTS)
        )
        status = type(self).answer_with or (200 if visible else 404)
        body = json.dumps({"id": int(found.group(1))} if visible else {"error": {}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def catalog() -> Iterator[type[_CatalogHandler]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CatalogHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _CatalogHandler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    try:
        yield _CatalogHandler
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Service:
    url: str
    database_url: str


def service_env(database_url: str, catalog_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "STRANGLER_IDENTITY_KEY": IDENTITY_KEY,
        "CATALOG_URL": catalog_url,
        "ALLOWED_HOSTS": f"{PUBLIC_HOST},127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }


@contextlib.contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[str]:
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if k not in env}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "inventory_service", "serve", "--port", str(port)],
            cwd=SERVICE,
            env={**clean, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"the service exited:\n{log.read_text()}"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"the service did not start:\n{log.read_text()}"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture(scope="session")
def service(
    database_url: str, catalog: type[_CatalogHandler], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    env = service_env(database_url, catalog.url)  # type: ignore[attr-defined]
    with serving(env, tmp_path_factory.mktemp("service") / "service.log") as url:
        yield Service(url=url, database_url=database_url)


@pytest.fixture
def db(service: Service, catalog: type[_CatalogHandler]) -> Iterator[psycopg.Connection]:
    """A direct connection to the service's database, emptied before the test (each test stands alone)."""
    catalog.answer_with = None
    catalog.calls.clear()
    with psycopg.connect(service.database_url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        yield conn


Client = Callable[..., httpx.Client]


@pytest.fixture
def client_for(service: Service, db: psycopg.Connection) -> Iterator[Client]:
    """An HTTP client that arrives as the proxy would send `persona` (None: anonymous)."""
    made: list[httpx.Client] = []

    def make(persona: str | None = None, **headers: str) -> httpx.Client:
        sent = {"Host": PUBLIC_HOST, **headers}
        if persona is not None:
            who = PERSONAS[persona]
            sent["Authorization"] = f"Token {who.token}"
            sent["X-Strangler-Identity"] = signed(who)
        client = httpx.Client(base_url=service.url, headers=sent, timeout=30)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def warehouse(db: psycopg.Connection) -> Callable[..., int]:
    def make(code: str = "BER-1", *, active: bool = True) -> int:
        row = db.execute(
            "INSERT INTO inventory_warehouse (code, name, city, country, active, created_at, updated_at)"
            " VALUES (%s, %s, 'Berlin', 'DE', %s, now(), now()) RETURNING id",
            (code, f"Warehouse {code}", active),
        ).fetchone()
        assert row is not None
        return int(row[0])

    return make


@pytest.fixture
def stock(db: psycopg.Connection, warehouse: Callable[..., int]) -> Callable[..., int]:
    """`quantity` units of `product` on hand in `warehouse_id` (a new warehouse unless given); the stock's id."""

    def put(product: int, quantity: int, warehouse_id: int | None = None) -> int:
        warehouse_id = warehouse_id or warehouse(f"WH-{secrets.token_hex(3)}")
        row = db.execute(
            "INSERT INTO inventory_stock (product_id, warehouse_id, quantity, created_at, updated_at)"
            " VALUES (%s, %s, %s, now(), now()) RETURNING id",
            (product, warehouse_id, quantity),
        ).fetchone()
        assert row is not None
        return int(row[0])

    return put


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, object]:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"status", "code", "message", "fields"}, body
    assert body["error"]["status"] == status
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]
