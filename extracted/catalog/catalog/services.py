"""Writes to the catalog. Keyword-only, one transaction each; a refusal raises a `common.errors` error."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError
from strangler_kit.errors import Conflict, InvalidInput

from catalog.models import Category, Product

CATEGORY_FIELDS = {"name", "slug", "parent"}
PRODUCT_FIELDS = {"sku", "name", "slug", "description", "price", "currency", "active", "category"}


@transaction.atomic
def category_create(*, name: str, slug: str, parent: Category | None = None) -> Category:
    category = Category(name=name, slug=slug, parent=parent)
    category.full_clean()
    category.save()
    return category


@transaction.atomic
def category_update(*, category: Category, data: dict[str, Any]) -> Category:
    parent = data.get("parent", category.parent)
    if parent is not None and _is_in_subtree(candidate=parent, root=category):
        raise InvalidInput(
            "A category cannot be moved below itself.",
            fields={"parent": ["A category cannot be its own ancestor."]},
        )
    return _apply(category, data, CATEGORY_FIELDS)


@transaction.atomic
def category_delete(*, category: Category) -> None:
    try:
        category.delete()
    except ProtectedError as exc:
        raise Conflict("The category still has subcategories or products.", code="in_use") from exc


@transaction.atomic
def product_create(
    *,
    sku: str,
    name: str,
    slug: str,
    price: Decimal,
    category: Category,
    currency: str = "EUR",
    description: str = "",
    active: bool = True,
) -> Product:
    product = Product(
        sku=sku,
        name=name,
        slug=slug,
        price=price,
        category=category,
        currency=currency,
        description=description,
        active=active,
    )
    product.full_clean()
    product.save()
    return product


@transaction.atomic
def product_update(*, product: Product, data: dict[str, Any]) -> Product:
    return _apply(product, data, PRODUCT_FIELDS)


@transaction.atomic
def product_delete(*, product: Product) -> None:
    # Order lines live in the monolith now, so nothing here protects an ordered product: see README, "Deleting
    # a product". The PROTECT rule of the category foreign key still holds.
    product.delete()


def _apply[M: (Category, Product)](instance: M, data: dict[str, Any], allowed: set[str]) -> M:
    changed = [name for name in data if name in allowed]
    for name in changed:
        setattr(instance, name, data[name])
    instance.full_clean()
    instance.save(update_fields=[*changed, "updated_at"] if changed else None)
    return instance


def _is_in_subtree(*, candidate: Category, root: Category) -> bool:
    node: Category | None = candidate
    while node is not None:
        if node.pk == root.pk:
            return True
        node = node.parent
    return False
