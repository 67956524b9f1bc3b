"""Reads of the catalog.

Other apps call `product_exists` and `product_price_quotes` with ids and get plain values back, never model
instances: the side that owns the catalog answers them (`seam`), the monolith's tables or the catalog service.
The querysets are the catalog's own API's, on the monolith's tables: the proxy sends that API to the service once
the service owns the data.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from catalog.models import Category, Product
from catalog.reads import PriceQuote
from catalog.seam import catalog_reads

__all__ = [
    "PriceQuote",
    "category_descendant_ids",
    "category_list",
    "product_exists",
    "product_list",
    "product_price_quotes",
]


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
    quote = catalog_reads().price_quotes([product_id]).get(product_id)
    return quote is not None and (quote.active or not active_only)


def product_price_quotes(*, product_ids: Iterable[int]) -> dict[int, PriceQuote]:
    """Current price, currency and state of each existing product among `product_ids` (missing ids are absent),
    in one batch. Raises `common.errors.Unavailable` when the catalog service owns the catalog and cannot answer."""
    return catalog_reads().price_quotes(set(product_ids))
