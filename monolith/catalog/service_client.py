"""The catalog service as the monolith's other apps see it once the service owns the catalog (docs/seam.md):
`GET /api/catalog/products/?ids=…` over httpx, signed as the monolith's service principal
(`common.service_identity`).

- **batches**: one request per 100 ids (the API's largest page), so an order of 50 lines is one call;
- **timeouts**: `timeout_s` (CATALOG_SERVICE_TIMEOUT, 2 s) bounds a lookup, retries included; 0.5 s to connect;
- **retries**: every call here is a GET, a read that may be repeated, so a refused or broken connection, a timeout
  or a 502/503/504 is tried again, twice, 50 and 100 ms apart; any other answer is final;
- **breaker**: one per client (`common.circuit_breaker`): 5 failed lookups in a row open it for 5 s, during which
  lookups fail at once instead of each waiting out its timeout.

The calls themselves (timeouts, retries, breaker, pooled connections) are `common.service_calls`, every seam's.

Every failure becomes `common.errors.Unavailable` (a 503 with Retry-After), raised before the caller has written
anything. There is no falling back to the monolith's own catalog tables: from cutover on they are a copy that
lags the service, and after retire they are gone.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from catalog.reads import PriceQuote
from common.circuit_breaker import CircuitBreaker
from common.errors import Unavailable
from common.service_calls import CallFailed, ServiceCalls
from common.service_identity import HEADER, sign_service_identity

PRODUCTS_PATH = "/api/catalog/products/"
SERVICE_AUDIENCE = "catalog"  # the identity's audience: the catalog service accepts only identities minted for it
BATCH = 100

logger = logging.getLogger(__name__)


class CatalogServiceClient:
    def __init__(
        self, *, base_url: str, identity_key: str, timeout_s: float, breaker: CircuitBreaker | None = None
    ) -> None:
        self.identity_key = identity_key
        self.calls = ServiceCalls(
            base_url=base_url, timeout_s=timeout_s, breaker=breaker, headers={"Accept": "application/json"}
        )

    @property
    def breaker(self) -> CircuitBreaker:
        return self.calls.breaker

    def price_quotes(self, product_ids: Collection[int]) -> dict[int, PriceQuote]:
        ids = sorted(set(product_ids))
        quotes: dict[int, PriceQuote] = {}
        for start in range(0, len(ids), BATCH):
            for item in self._products(ids[start : start + BATCH]):
                quote = _quote(item)
                quotes[quote.product_id] = quote
        return quotes

    def _products(self, ids: list[int]) -> Iterable[dict[str, Any]]:
        response = self._get(PRODUCTS_PATH, {"ids": ",".join(map(str, ids)), "page_size": str(len(ids))})
        try:
            page = response.json()
            results = page["results"]
            complete = page["next"] is None and isinstance(results, list)
        except (ValueError, KeyError, TypeError) as exc:
            raise self._unavailable("it answered something that is not a page of products") from exc
        if not complete:
            raise self._unavailable("it answered with more than one page for one batch")
        return results

    def _get(self, path: str, params: dict[str, str]) -> httpx.Response:
        headers = {HEADER: sign_service_identity(key=self.identity_key, audience=SERVICE_AUDIENCE)}
        try:
            # Every call here is a GET, a read that may be repeated.
            response = self.calls.call("GET", path, params=params, headers=headers, repeatable=True)
        except CallFailed as exc:
            raise self._unavailable(exc.why, retry_after=exc.retry_after) from exc
        if response.status_code != 200:
            raise self._unavailable(_refusal(response))
        return response

    def _unavailable(self, why: str, *, retry_after: int = 1) -> Unavailable:
        logger.warning("catalog service at %s: %s", self.calls.base_url, why)
        return Unavailable(
            f"The catalog service cannot answer the monolith just now ({why}); nothing was changed. "
            f"Try again in {retry_after} s.",
            retry_after=retry_after,
        )


def _quote(item: dict[str, Any]) -> PriceQuote:
    try:
        return PriceQuote(
            product_id=int(item["id"]),
            sku=str(item["sku"]),
            name=str(item["name"]),
            price=Decimal(item["price"]),
            currency=str(item["currency"]),
            active=bool(item["active"]),
        )
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise Unavailable(
            "The catalog service answered a product the monolith cannot read; nothing was changed."
        ) from exc


def _refusal(response: httpx.Response) -> str:
    if response.status_code == 401:
        # The service verifies the identity with its STRANGLER_IDENTITY_KEY: the two keys differ.
        return "it refused the monolith's identity: check that both have the same STRANGLER_IDENTITY_KEY"
    return f"it refused the lookup with {response.status_code}"
