"""Reads of the catalog."""

from __future__ import annotations

from django.db.models import QuerySet

from catalog.models import Category, Product


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
