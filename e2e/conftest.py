"""The stacks the parity suite runs against: per database engine, the monolith and the catalog service as real
processes on loopback ports, on separate databases; the service's catalog rows are the monolith's, moved by the
migration engine."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from data_move import backfill
from databases import database, postgres_server, sql
from inventory_stack import InventoryStack, inventory_stack
from parity import IDENTITY_KEY, PUBLIC_HOST, Side
from processes import ROOT, Server, django, free_port, run_together
from proxy_stack import Proxy, proxy_in_front
from reviews_stack import ReviewsStack, reviews_stack
from saga_stack import SagaStack, saga_stack
from seam_stack import SeamStack, seam_stack
from seed import Shop, seed

ENGINES = ["sqlite", "postgresql"]
CATALOG = ROOT / "extracted" / "catalog"


@dataclass(frozen=True)
class Stack:
    engine: str
    monolith: Server
    catalog: Server
    shop: Shop
    monolith_database: str
    catalog_database: str
    logs: Path


def _django_env(database_url: str, static_root: Path, settings: str = "production") -> dict[str, str]:
    """The environment of `settings` (production: as each would be deployed; cookies not Secure, the tests speak
    plain HTTP)."""
    return {
        "DJANGO_SETTINGS_MODULE": f"config.settings.{settings}",
        "DATABASE_URL": database_url,
        "STATIC_ROOT": str(static_root),
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECRET_KEY": "e2e-not-secret",
        "ALLOWED_HOSTS": f"{PUBLIC_HOST},127.0.0.1,localhost",
        "STRANGLER_IDENTITY_KEY": IDENTITY_KEY,
        "LOG_LEVEL": "WARNING",
    }


@contextlib.contextmanager
def catalog_stack(engine: str, folder: Path, prefix: str = "") -> Iterator[Stack]:
    """A monolith and a catalog service of their own on `engine`, seeded and backfilled: the session's `stack`, and
    any test that moves the data in a way the session's stack must not see (its own databases, named with `prefix`,
    its own processes)."""
    with contextlib.ExitStack() as stack:
        monolith_db = stack.enter_context(database(engine, f"{prefix}monolith", folder))
        catalog_db = stack.enter_context(database(engine, f"{prefix}catalog", folder))
        catalog_port = free_port()
        # The monolith asks the catalog service directly once the service owns the catalog (docs/seam.md).
        monolith_env = {
            **_django_env(monolith_db, folder / "monolith-static"),
            "CATALOG_SERVICE_URL": f"http://127.0.0.1:{catalog_port}",
        }
        catalog_env = _django_env(catalog_db, folder / "catalog-static")
        migrate = [sys.executable, "manage.py", "migrate", "--noinput"]
        run_together([(migrate, ROOT / "monolith", monolith_env), (migrate, CATALOG, catalog_env)])
        shop = seed(monolith_env)
        backfill(monolith_db, catalog_db)
        monolith = stack.enter_context(django("monolith", ROOT / "monolith", monolith_env, folder))
        catalog = stack.enter_context(django("catalog", CATALOG, catalog_env, folder, port=catalog_port))
        monolith.wait_until_ready()
        catalog.wait_until_ready()
        yield Stack(engine, monolith, catalog, shop, monolith_db, catalog_db, folder)


@pytest.fixture(scope="session", params=ENGINES)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    engine: str = request.param
    if engine == "postgresql" and not postgres_server():
        pytest.skip("PostgreSQL parity runs when STRANGLER_TEST_POSTGRES is set")
    with catalog_stack(engine, tmp_path_factory.mktemp(f"stack-{engine}")) as built:
        yield built


@pytest.fixture(scope="module", params=ENGINES)
def seam(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeamStack]:
    """A stack for one module of the seam's tests (seam_stack.py), which may hand the catalog over, stop the
    catalog service and retire the monolith's catalog tables."""
    engine: str = request.param
    if engine == "postgresql" and not postgres_server():
        pytest.skip("PostgreSQL runs when STRANGLER_TEST_POSTGRES is set")
    with seam_stack(engine, tmp_path_factory.mktemp(f"seam-{engine}"), _django_env) as running:
        yield running


@pytest.fixture
def missing(stack: Stack) -> dict[str, int]:
    """Ids no row has on either side of the session's stack right now, for the cases about a missing one: the tests
    before may have made any number of rows (the crash matrix makes thousands), so no fixed id is safe. `page` is
    a page past the end of any listing (more pages than there are products)."""
    highest = {
        table: max(
            int(sql(url, f"SELECT coalesce(max(id), 0) FROM catalog_{table}")[0][0])  # noqa: S608 - fixed names
            for url in (stack.monolith_database, stack.catalog_database)
        )
        for table in ("product", "category")
    }
    return {"product": highest["product"] + 1, "category": highest["category"] + 1, "page": highest["product"] + 1}


@dataclass(frozen=True)
class Development:
    monolith: Side
    service: Side


@pytest.fixture(scope="module")
def development(stack: Stack) -> Iterator[Development]:
    """The monolith and the service once more, with the settings `make up` runs them with (DEBUG, the browsable
    API where it is on), on the stack's databases; the answers compared there are reads."""
    with contextlib.ExitStack() as running:
        servers = [
            running.enter_context(
                django(
                    f"{name}-development",
                    folder,
                    _django_env(url, stack.logs / f"{name}-dev-static", "development"),
                    stack.logs,
                )
            )
            for name, folder, url in (
                ("monolith", ROOT / "monolith", stack.monolith_database),
                ("catalog", CATALOG, stack.catalog_database),
            )
        ]
        for server in servers:
            server.wait_until_ready()
        sides = Development(
            Side("monolith (development)", servers[0].url, stack.shop, sign=False),
            Side("catalog service (development)", servers[1].url, stack.shop, sign=True),
        )
        yield sides
        sides.monolith.close()
        sides.service.close()


@pytest.fixture(scope="session")
def monolith(stack: Stack) -> Iterator[Side]:
    side = Side("monolith", stack.monolith.url, stack.shop, sign=False)
    yield side
    side.close()


@pytest.fixture(scope="session")
def service(stack: Stack) -> Iterator[Side]:
    side = Side("catalog service", stack.catalog.url, stack.shop, sign=True)
    yield side
    side.close()


@pytest.fixture(scope="session")
def proxy(stack: Stack) -> Iterator[Proxy]:
    with proxy_in_front(stack.monolith.url, stack.catalog.url, stack.logs) as running:
        yield running


@pytest.fixture(scope="session")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InventoryStack]:
    """The monolith and the inventory service (PostgreSQL only), the service's rows copied by the engine."""
    if not postgres_server():
        pytest.skip("the inventory parity suite runs on PostgreSQL only: set STRANGLER_TEST_POSTGRES")
    folder = tmp_path_factory.mktemp("stack-inventory")
    with inventory_stack(folder, _django_env("", folder / "monolith-static")) as running:
        yield running


@pytest.fixture(scope="module")
def inventory_walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InventoryStack]:
    """The inventory stack with the monolith wired to the service (its seam), for walks that move the data."""
    if not postgres_server():
        pytest.skip("the inventory walk runs on PostgreSQL only: set STRANGLER_TEST_POSTGRES")
    folder = tmp_path_factory.mktemp("stack-inventory-walk")
    env = _django_env("", folder / "monolith-static")
    with inventory_stack(folder, env, name="inventory_walk", seam=True) as running:
        yield running


@pytest.fixture(scope="session")
def inventory_monolith(inventory: InventoryStack) -> Iterator[Side]:
    side = Side("monolith", inventory.monolith.url, inventory.shop, sign=False)
    yield side
    side.close()


@pytest.fixture(scope="session")
def inventory_service(inventory: InventoryStack) -> Iterator[Side]:
    side = Side(
        "inventory service",
        inventory.service.url,
        inventory.shop,
        sign=True,
        audience="inventory",
        forward_credentials=True,
    )
    yield side
    side.close()


@pytest.fixture(scope="module", params=ENGINES)
def reviews(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReviewsStack]:
    """The monolith and the reviews service, the service's rows copied by the engine."""
    engine: str = request.param
    if engine == "postgresql" and not postgres_server():
        pytest.skip("PostgreSQL parity runs when STRANGLER_TEST_POSTGRES is set")
    folder = tmp_path_factory.mktemp(f"stack-reviews-{engine}")
    with reviews_stack(engine, folder, _django_env("", folder)) as running:
        yield running


@pytest.fixture(scope="module")
def reviews_monolith(reviews: ReviewsStack) -> Iterator[Side]:
    side = Side("monolith", reviews.monolith.url, reviews.shop, sign=False)
    yield side
    side.close()


@pytest.fixture(scope="module")
def reviews_service(reviews: ReviewsStack) -> Iterator[Side]:
    side = Side("reviews service", reviews.service.url, reviews.shop, sign=True, audience="reviews")
    yield side
    side.close()


@pytest.fixture(scope="module")
def saga(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SagaStack]:
    """The monolith and the inventory service (PostgreSQL only), the service owning inventory, a relay between."""
    if not postgres_server():
        pytest.skip("the order saga's tests run on PostgreSQL only: set STRANGLER_TEST_POSTGRES")
    folder = tmp_path_factory.mktemp("stack-saga")
    with saga_stack(folder, _django_env("", folder / "monolith-static")) as running:
        yield running
