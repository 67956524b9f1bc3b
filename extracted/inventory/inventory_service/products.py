"""Whether a product exists, asked of the catalog's public API: products belong to the catalog, not here.

`GET {CATALOG_URL}/api/catalog/products/<id>/` answers 200 for a product the asker may see and 404 otherwise:
anonymous callers see active products, staff see every product. That is exactly the monolith's
`product_exists(active_only=…)`: availability asks as nobody (active products only); staff writes ask with the
caller's own credentials (`Authorization`, `Cookie`, which the proxy passes on), so staff may stock an inactive
product as in the monolith. CATALOG_URL is the proxy in production, so the answer comes from whoever owns the
catalog at the time (the monolith, or the catalog service after its cutover).

The catalog unreachable, slow or answering anything else: DependencyUnavailable (503). A write is never
accepted on a guess.

A "yes" is remembered for CACHE_SECONDS per product and view (anyone's, staff's), as the proxy remembers an
identity: without it every reservation costs a full request to the catalog's owner, which halves the service's
rate (bench/inventory/reservations.py). A "no" is never remembered, so a product made a moment ago is found at
once; a product deleted or deactivated in the last CACHE_SECONDS may still be accepted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import httpx

from inventory_service import number_rules as numbers
from inventory_service.errors import DependencyUnavailable

logger = logging.getLogger(__name__)
FORWARDED_CREDENTIALS = ("authorization", "cookie")
CACHE_SECONDS = 5.0
CACHE_ENTRIES = 10_000


class ProductDirectory:
    def __init__(self, catalog_url: str, *, timeout: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._client = httpx.AsyncClient(
            base_url=catalog_url, timeout=timeout, transport=transport, headers={"accept": "application/json"}
        )
        self._seen: dict[tuple[int, bool], float] = {}  # (product, staff view) -> when the "yes" expires

    async def visible(self, product_id: int, *, as_caller: Mapping[str, str] | None = None) -> bool:
        """Whether the product exists for the caller whose credentials are `as_caller` (None: anyone). Only staff
        write, so a caller's view is staff's."""
        if not 1 <= product_id <= numbers.LARGEST_ID:
            return False  # ids are positive bigints: nothing to ask
        view = (product_id, as_caller is not None)
        if self._seen.get(view, 0.0) > time.monotonic():
            return True
        headers = {name: as_caller[name] for name in FORWARDED_CREDENTIALS if as_caller and name in as_caller}
        try:
            response = await self._client.get(f"/api/catalog/products/{product_id}/", headers=headers)
        except httpx.HTTPError as exc:
            logger.warning("catalog lookup of product %s failed: %s", product_id, exc)
            raise _unavailable(product_id) from exc
        if response.status_code == 200:
            if len(self._seen) >= CACHE_ENTRIES:
                self._seen.clear()
            self._seen[view] = time.monotonic() + CACHE_SECONDS
            return True
        if response.status_code == 404:
            return False
        logger.warning("catalog lookup of product %s answered %s", product_id, response.status_code)
        raise _unavailable(product_id)

    async def close(self) -> None:
        await self._client.aclose()


def _unavailable(product_id: int) -> DependencyUnavailable:
    return DependencyUnavailable(f"The catalog could not be asked about product {product_id}; try again.")
