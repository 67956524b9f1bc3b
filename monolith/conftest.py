"""Fixtures for every app's tests: the personas and factories that go through each app's services."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog import seam as catalog_seam
from catalog import services as catalog_services
from common.testing_services import IDENTITY_KEY, CatalogService, catalog_service, free_port
from inventory import seam as inventory_seam
from inventory import services as inventory_services
from ownership import services as ownership_services
from ownership.selectors import Owner

User = get_user_model()
_serial = count(1)


@pytest.fixture
def alice(db: None) -> Any:
    """A customer."""
    return User.objects.create_user("alice", "alice@example.com", "alice-password")


@pytest.fixture
def bob(db: None) -> Any:
    """Another customer."""
    return User.objects.create_user("bob", "bob@example.com", "bob-password")


@pytest.fixture
def charlie(db: None) -> Any:
    """Staff."""
    return User.objects.create_user("charlie", "charlie@example.com", "charlie-password", is_staff=True)


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for(db: None) -> Callable[[Any], APIClient]:
    """An API client that authenticates as `user` with a token, as a real client would."""

    def make(user: Any) -> APIClient:
        token, _ = Token.objects.get_or_create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def make_category(db: None) -> Callable[..., Any]:
    def make(name: str | None = None, parent: Any = None) -> Any:
        n = next(_serial)
        name = name or f"Category {n}"
        return catalog_services.category_create(name=name, slug=f"category-{n}", parent=parent)

    return make


@pytest.fixture
def make_product(make_category: Callable[..., Any]) -> Callable[..., Any]:
    def make(**overrides: Any) -> Any:
        n = next(_serial)
        fields: dict[str, Any] = {
            "sku": f"SKU-{n:05d}",
            "name": f"Product {n}",
            "slug": f"product-{n}",
            "price": Decimal("10.00"),
            "currency": "EUR",
            "description": "",
            "active": True,
        }
        fields.update(overrides)
        if "category" not in fields:
            fields["category"] = make_category()
        return catalog_services.product_create(**fields)

    return make


@pytest.fixture
def make_warehouse(db: None) -> Callable[..., Any]:
    def make(**overrides: Any) -> Any:
        n = next(_serial)
        fields: dict[str, Any] = {"code": f"WH-{n}", "name": f"Warehouse {n}", "city": "Berlin", "country": "DE"}
        fields.update(overrides)
        return inventory_services.warehouse_create(**fields)

    return make


@pytest.fixture
def stock(make_warehouse: Callable[..., Any]) -> Callable[..., Any]:
    """Put `quantity` units of `product` on hand in a (new, unless given) warehouse."""

    def put(product: Any, quantity: int, warehouse: Any = None) -> Any:
        return inventory_services.stock_create(
            product_id=product.id, warehouse=warehouse or make_warehouse(), quantity=quantity
        )

    return put


# --- the catalog service, for the seam (docs/seam.md) -----------------------------------------------------------


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogService]:
    """The extracted catalog service, a real process on loopback with its own database (started once)."""
    with catalog_service(tmp_path_factory.mktemp("catalog-service")) as running:
        yield running


@pytest.fixture(scope="session")
def service_category(service: CatalogService) -> int:
    return int(service.create("/api/catalog/categories/", {"name": "Seam", "slug": "seam"})["id"])


@pytest.fixture
def service_product(service: CatalogService, service_category: int) -> Callable[..., dict[str, Any]]:
    """A product made in the catalog service only (the monolith's tables never see it)."""

    def make(**fields: Any) -> dict[str, Any]:
        return service.product(category=service_category, sku=f"SEAM-{next(_serial):05d}", **fields)

    return make


@pytest.fixture(autouse=True)
def fresh_service_clients() -> Iterator[None]:
    """Each test starts with new service clients: a breaker opened by one test must not refuse the next's calls."""
    catalog_seam._client.cache_clear()
    inventory_seam._client.cache_clear()
    yield
    catalog_seam._client.cache_clear()
    inventory_seam._client.cache_clear()


@pytest.fixture
def reach_service(settings: Any, service: CatalogService) -> CatalogService:
    settings.CATALOG_SERVICE_URL = service.url
    settings.STRANGLER_IDENTITY_KEY = IDENTITY_KEY
    return service


@pytest.fixture
def service_owns_the_catalog(db: None, reach_service: CatalogService) -> CatalogService:
    """As after `strangler data cutover`: the engine recorded the service as the owner."""
    ownership_services.data_owner_record(spec=catalog_seam.SPEC, owner=Owner.SERVICE)
    return reach_service


@pytest.fixture
def service_down(service_owns_the_catalog: CatalogService, settings: Any) -> None:
    """The service owns the catalog and does not answer: nothing listens at its address."""
    settings.CATALOG_SERVICE_URL = f"http://127.0.0.1:{free_port()}"
