"""The catalog's reads that the monolith's other apps make, as one contract with two implementations:
`local_reads.LocalCatalog` (the ORM, while the monolith owns the catalog) and
`service_client.CatalogServiceClient` (HTTP, once the catalog service owns it). `seam.catalog_reads` picks the
one that answers; `selectors` is what other apps call."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class PriceQuote:
    product_id: int
    sku: str
    name: str
    price: Decimal
    currency: str
    active: bool


class CatalogReads(Protocol):
    def price_quotes(self, product_ids: Collection[int]) -> dict[int, PriceQuote]:
        """Each existing product among `product_ids`, active or not (missing ids are absent), in one batch."""
        ...
