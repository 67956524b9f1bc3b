"""The catalog's reads answered from the monolith's own tables: right while the monolith owns the catalog."""

from __future__ import annotations

from collections.abc import Collection

from catalog.models import Product
from catalog.reads import PriceQuote


class LocalCatalog:
    def price_quotes(self, product_ids: Collection[int]) -> dict[int, PriceQuote]:
        rows = Product.objects.filter(id__in=set(product_ids)).values_list(
            "id", "sku", "name", "price", "currency", "active"
        )
        return {row[0]: PriceQuote(*row) for row in rows}
