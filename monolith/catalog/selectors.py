"""Reads of the catalog. Other apps call these with ids and get plain values back, never model instances,
so that the catalog can move behind a network call without changing its callers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from catalog.models import Category, Product


@dataclass(frozen=True)
class PriceQuote:
    product_id: int
    sku: str
    name: str
    price: Decimal
    currency: str
    active: bool


def category_list() -> QuerySet[Category]:
    return Category.objects.all()


def category_descendant_ids(*, category_id: int) -> list[int]:
    """The category and everything below it, walked level by level (trees here are a few levels deep)."""
    found = [category_id]
    frontier = [category_id]
    while frontier:
        frontier = list(Category.objects.filter(parent_id__in=frontier).values_list("id", flat=True))
        found.extend(frontier)
    return found


def product_list(*, include_inactive: bool) -> QuerySet[Product]:
    products = Product.objects.all()
    return products if include_inactive else products.filter(active=True)


def product_exists(*, product_id: int, active_only: bool = True) -> bool:
    return product_list(include_inactive=not active_only).filter(id=product_id).exists()


def product_price_quotes(*, product_ids: Iterable[int]) -> dict[int, PriceQuote]:
    """Current price, currency and state of each existing product among `product_ids` (missing ids are absent)."""
    rows = Product.objects.filter(id__in=set(product_ids)).values_list(
        "id", "sku", "name", "price", "currency", "active"
    )
    return {row[0]: PriceQuote(*row) for row in rows}


def product_ids_existing(*, product_ids: Iterable[int]) -> set[int]:
    return set(Product.objects.filter(id__in=set(product_ids)).values_list("id", flat=True))
