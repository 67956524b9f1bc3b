"""The catalog service as the monolith's other apps see it once the service owns the catalog (docs/seam.md):
`GET /api/catalog/products/?ids=…` over httpx, signed as the monolith's service principal
(`common.service_identity`).

- **batches**: one request per 100 ids (the API's largest page), so an order of 50 lines is one call;
- **timeouts**: `timeout_s` (CATALOG_SERVICE_TIMEOUT, 2 s) bounds a lookup, retries included; 0.5 s to connect;
- **retries**: every call here is a GET, a read that may be repeated, so a refused or broken connection, a timeout
  or a 502/503/504 is tried again, twice, 50 and 100 ms apart; any other answer is final;
- **breaker**: one per client (`common.circuit_breaker`): 5 failed lookups in a row open it for 5 s, during which
  lookups fail at once instead of each waiting out its timeout.

Every failure becomes `common.errors.Unavailable` (a 503 with Retry-After), raised before the caller has written
anything. There is no falling back to the monolith's own catalog tables: from cutover on they are a copy that
lags the service, and after retire they are gone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from catalog.reads import PriceQuote
from common.circuit_breaker import BreakerOpen, CircuitBreaker
from common.errors import Unavailable
from common.service_identity import HEADER, sign_service_identity

PRODUCTS_PATH = "/api/catalog/products/"
SERVICE_AUDIENCE = "catalog"  # the identity's audience: the catalog service accepts only identities minted for it
BATCH = 100
CONNECT_TIMEOUT_S = 0.5
BACKOFF_S = (0.05, 0.1)
RETRIED_STATUSES = frozenset({502, 503, 504})

logger = logging.getLogger(__name__)


class CatalogServiceClient:
    def __init__(
        self, *, base_url: str, identity_key: str, timeout_s: float, breaker: CircuitBreaker | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.identity_key = identity_key
        self.timeout_s = timeout_s
        self.breaker = breaker or CircuitBreaker()
        self._local = threading.local()  # one pooled client per thread of the server

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
        try:
            self.breaker.admit()
        except BreakerOpen as exc:
            raise self._unavailable("it failed repeatedly just before", retry_after=exc.retry_after) from exc
        deadline = time.monotonic() + self.timeout_s
        why = "no time was left to ask"
        for attempt in range(len(BACKOFF_S) + 1):
            if attempt:
                time.sleep(BACKOFF_S[attempt - 1])
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                response = self._client().get(
                    path,
                    params=params,
                    headers={HEADER: sign_service_identity(key=self.identity_key, audience=SERVICE_AUDIENCE)},
                    timeout=httpx.Timeout(remaining, connect=min(CONNECT_TIMEOUT_S, remaining)),
                )
            except httpx.TransportError as exc:
                why = _transport_failure(exc)
                continue
            if response.status_code in RETRIED_STATUSES:
                why = f"it answered {response.status_code}"
                continue
            if response.status_code >= 500:
                self.breaker.failed()
                raise self._unavailable(f"it answered {response.status_code}")
            self.breaker.succeeded()  # it answers: a refusal below is not a reason to stop asking it
            if response.status_code != 200:
                raise self._unavailable(_refusal(response))
            return response
        self.breaker.failed()
        raise self._unavailable(why)

    def _unavailable(self, why: str, *, retry_after: int = 1) -> Unavailable:
        logger.warning("catalog service at %s: %s", self.base_url, why)
        return Unavailable(
            f"The catalog service cannot answer the monolith just now ({why}); nothing was changed. "
            f"Try again in {retry_after} s.",
            retry_after=retry_after,
        )

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(base_url=self.base_url, headers={"Accept": "application/json"})
            self._local.client = client
        return client


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


def _transport_failure(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "it did not answer in time"
    if isinstance(exc, httpx.ConnectError):
        return "the connection was refused"
    return "the connection broke"


def _refusal(response: httpx.Response) -> str:
    if response.status_code == 401:
        # The service verifies the identity with its STRANGLER_IDENTITY_KEY: the two keys differ.
        return "it refused the monolith's identity: check that both have the same STRANGLER_IDENTITY_KEY"
    return f"it refused the lookup with {response.status_code}"
