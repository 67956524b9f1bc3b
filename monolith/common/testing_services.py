"""Tests only: the extracted services as real processes on loopback ports. The catalog service (extracted/catalog),
for the tests of the monolith's HTTP implementation of the catalog's reads, and the reviews service
(extracted/reviews), for the reviews seam: each migrated on its own SQLite file, served by granian with its
production settings, with an access log the tests read to count the requests the monolith made.
The inventory service (extracted/inventory), for the order saga's: on its own PostgreSQL database."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from common.service_identity import HEADER, sign_service_identity

SERVICE = Path(__file__).resolve().parents[2] / "extracted" / "catalog"
REVIEWS = Path(__file__).resolve().parents[2] / "extracted" / "reviews"
IDENTITY_KEY = "monolith-test-identity-key-0123456789abcdef"
START_SECONDS = 30.0
ACCESS = "ACCESS"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class CatalogService:
    url: str
    log: Path
    process: subprocess.Popen[bytes]
    client: httpx.Client

    def requests(self, path: str) -> list[str]:
        """The access-log lines of the requests made so far to `path` (query strings included)."""
        return [line for line in self.log.read_text(errors="replace").splitlines() if f"{ACCESS} GET {path}" in line]

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a row through the service's API, as staff (the monolith's principal is staff)."""
        answer = self.client.post(
            path, json=body, headers={HEADER: sign_service_identity(key=IDENTITY_KEY, audience="catalog")}
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    def product(self, *, category: int, sku: str, price: str = "10.00", **fields: Any) -> dict[str, Any]:
        body = {"sku": sku, "name": f"Product {sku}", "slug": sku.lower(), "price": price, "category": category}
        return self.create("/api/catalog/products/", {**body, **fields})


@contextlib.contextmanager
def catalog_service(folder: Path) -> Iterator[CatalogService]:
    with _django_service(SERVICE, "catalog", folder, {}) as (url, log, process):
        service = CatalogService(url, log, process, httpx.Client(base_url=url, timeout=10))
        try:
            yield service
        finally:
            service.client.close()


@dataclass
class ReviewsService:
    url: str
    log: Path

    def requests(self, method: str, path: str) -> list[str]:
        """The access-log lines of the requests made so far to `path` with `method` (query strings included)."""
        lines = self.log.read_text(errors="replace").splitlines()
        return [line for line in lines if f"{ACCESS} {method} {path}" in line]


@contextlib.contextmanager
def reviews_service(folder: Path, *, catalog_url: str) -> Iterator[ReviewsService]:
    """The reviews service (extracted/reviews), asking the catalog at `catalog_url` whether a product is for sale."""
    # The monolith relays its clients' Host: the Django test client's is `testserver`.
    extra = {"CATALOG_URL": catalog_url, "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver"}
    with _django_service(REVIEWS, "reviews", folder, extra) as (url, log, _):
        yield ReviewsService(url, log)


@contextlib.contextmanager
def _django_service(
    folder_of_service: Path, name: str, folder: Path, extra: dict[str, str]
) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": f"sqlite:///{folder / f'{name}.sqlite3'}",
        "SECRET_KEY": "monolith-tests-not-secret",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "STATIC_ROOT": str(folder / f"{name}-static"),
        "STRANGLER_IDENTITY_KEY": IDENTITY_KEY,
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    env.pop("PYTHONPATH", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=folder_of_service,
        env=env,
        check=True,
        timeout=120,
    )
    port = free_port()
    log = folder / f"{name}.log"
    granian = Path(sys.executable).parent / "granian"
    args = [str(granian), "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    args += ["--access-log", "--access-log-fmt", f"{ACCESS} %(method)s %(path)s?%(query_string)s %(status)d"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*args, "config.wsgi:application"], cwd=folder_of_service, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(name, url, log, process)
        yield url, log, process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


def _wait_until_ready(name: str, url: str, log: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the {name} service exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {name} service did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)


# --- the inventory service (extracted/inventory: Starlette + psycopg, PostgreSQL only) ----------------------------

INVENTORY = Path(__file__).resolve().parents[2] / "extracted" / "inventory"


@dataclass
class InventoryService:
    url: str
    database_url: str
    log: Path


@contextlib.contextmanager
def inventory_service(postgres_url: str, folder: Path) -> Iterator[InventoryService]:
    """The service on a database of its own, made on the server of `postgres_url` and dropped afterwards."""
    name = f"strangler_monolith_inventory_{os.getpid()}_{free_port()}"
    server = postgres_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database_url = postgres_url.rsplit("/", 1)[0] + "/" + name
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "STRANGLER_IDENTITY_KEY": IDENTITY_KEY,
        "CATALOG_URL": "http://127.0.0.1:9",  # the order operations never ask the catalog
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("PYTHONPATH", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    port = free_port()
    log = folder / "inventory.log"
    try:
        command = [sys.executable, "-m", "inventory_service"]
        subprocess.run([*command, "migrate"], cwd=INVENTORY, env=env, check=True, timeout=120, capture_output=True)
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*command, "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=INVENTORY, env=env,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            _wait_for_health(f"http://127.0.0.1:{port}", process, log)
            yield InventoryService(f"http://127.0.0.1:{port}", database_url, log)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wait_for_health(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the service did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)
