"""Whether a product is for sale, asked of the catalog's public API: products belong to the catalog, not here.

`GET {CATALOG_URL}/api/catalog/products/?ids=<id>` (the catalog's batch lookup) as an anonymous caller, who sees
active products only: the product is for sale when it is in the answer. CATALOG_URL is the proxy, so whoever owns
the catalog answers (the monolith, or the catalog service from its cutover on) and a product made a moment ago is
found at once. The catalog unreachable, slow or answering anything else: `Unavailable` (503), nothing written.
"""

from __future__ import annotations

import functools

from django.conf import settings
from strangler_kit.service_client import ServiceClient

PRODUCTS_PATH = "/api/catalog/products/"


def product_for_sale(*, product_id: int) -> bool:
    page = catalog(settings.CATALOG_URL, settings.CATALOG_TIMEOUT_S).get_json(
        PRODUCTS_PATH, params={"ids": str(product_id)}
    )
    results = page.get("results", []) if isinstance(page, dict) else []
    return any(isinstance(item, dict) and item.get("id") == product_id and item.get("active") for item in results)


@functools.cache
def catalog(base_url: str, timeout_s: float) -> ServiceClient:
    # One client (one breaker, one set of pooled connections) per configuration, for the process's life.
    return ServiceClient(name="catalog", base_url=base_url, timeout_s=timeout_s)
