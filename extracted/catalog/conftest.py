"""Fixtures for the service's tests: the kit's personas (as the proxy would sign them) and catalog factories."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from itertools import count
from typing import Any

import pytest

from catalog import services as catalog_services

pytest_plugins = ["strangler_kit.personas"]  # alice, bob (customers), charlie (staff), anon, client_for

_serial = count(1)


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
