"""Fixtures for the service's tests: the personas (as the proxy would sign them) and catalog factories."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient
from strangler_kit.identity.signing import Identity, sign
from strangler_kit.identity.user import ServiceUser

from catalog import services as catalog_services

_serial = count(1)
IDENTITY_SECONDS = 30


def identity_header(
    user: ServiceUser,
    *,
    issued_at: int | None = None,
    seconds: int = IDENTITY_SECONDS,
    audience: str = "catalog",
) -> str:
    """What the proxy sends for `user`: signed with the service's key for `audience`, valid for `seconds` from
    `issued_at`."""
    issued_at = int(time.time()) if issued_at is None else issued_at
    identity = Identity(
        user_id=user.id,
        username=user.username,
        is_staff=user.is_staff,
        issued_at=issued_at,
        expires_at=issued_at + seconds,
        audience=audience,
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
