"""Fixtures for the service's tests: the kit's personas (as the proxy would sign them) and a catalog on loopback
that knows which products are for sale."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from strangler_kit.testing import send_json

pytest_plugins = ["strangler_kit.personas"]  # alice, bob (customers), charlie (staff), anon, client_for


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
        send_json(self, status, {"count": len(found), "next": None, "previous": None, "results": found})

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
