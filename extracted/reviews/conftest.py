"""Fixtures for the service's tests: the personas (as the proxy would sign them) and a catalog on loopback that
knows which products are for sale."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from rest_framework.test import APIClient
from strangler_kit.identity.signing import Identity, sign
from strangler_kit.identity.user import ServiceUser

IDENTITY_SECONDS = 30


def identity_header(user: ServiceUser, *, seconds: int = IDENTITY_SECONDS) -> str:
    """What the proxy sends for `user`: signed with the service's key, for this service's audience."""
    now = int(time.time())
    identity = Identity(
        user_id=user.id,
        username=user.username,
        is_staff=user.is_staff,
        issued_at=now,
        expires_at=now + seconds,
        audience=settings.STRANGLER_IDENTITY_AUDIENCE,
    )
    return sign(identity, key=settings.STRANGLER_IDENTITY_KEY)


@pytest.fixture
def alice() -> ServiceUser:
    """A customer."""
    return ServiceUser(id=1, username="alice", is_staff=False)


@pytest.fixture
def bob() -> ServiceUser:
    """Another customer."""
    return ServiceUser(id=2, username="bob", is_staff=False)


@pytest.fixture
def charlie() -> ServiceUser:
    """Staff."""
    return ServiceUser(id=3, username="charlie", is_staff=True)


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for() -> Callable[[ServiceUser], APIClient]:
    """An API client that arrives as `user` would through the proxy: with a signed identity."""

    def make(user: ServiceUser) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_X_STRANGLER_IDENTITY=identity_header(user))
        return client

    return make


class Catalog(ThreadingHTTPServer):
    """The catalog's batch lookup as an anonymous caller sees it: `?ids=` answers the active products among them."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CatalogHandler)
        self.for_sale: set[int] = set()
        self.failing_with: int | None = None
        self.asked = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _CatalogHandler(BaseHTTPRequestHandler):
    server: Catalog

    def do_GET(self) -> None:
        self.server.asked += 1
        url = urlsplit(self.path)
        ids = [int(i) for i in parse_qs(url.query).get("ids", [""])[0].split(",") if i]
        status = self.server.failing_with or 200
        found = [{"id": i, "active": True} for i in ids if i in self.server.for_sale]
        body = json.dumps({"count": len(found), "next": None, "previous": None, "results": found}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def catalog(settings: Any) -> Iterator[Catalog]:
    server = Catalog()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.CATALOG_URL = server.url
    yield server
    server.shutdown()
    server.server_close()


_serial = count(1000)


@pytest.fixture
def make_product(catalog: Catalog, db: None) -> Callable[[], int]:
    """A product the catalog has for sale: its id."""

    def make() -> int:
        product_id = next(_serial)
        catalog.for_sale.add(product_id)
        return product_id

    return make
