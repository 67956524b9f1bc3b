"""The reviews service as the monolith sees it once the service owns reviews (docs/seam.md §9): the monolith's own
reviews API relays each request to it, and the reviews' public interface (`selectors.rating_summary`) asks it, over
httpx, signed for the audience `reviews`.

- **identity**: a relayed request carries the identity the proxy would sign for the monolith's user
  (`common.service_identity.sign_identity`: user id, staff, and the `customer` claim, the customer id a review
  stores); an anonymous one carries none; the monolith's own lookups sign as its service principal;
- **timeouts, breaker, pooled connections**: `common.service_calls`, as every seam's client (`timeout_s`:
  REVIEWS_SERVICE_TIMEOUT, 2 s, retries included);
- **retries**: only for reads (GET, HEAD, OPTIONS), which may be repeated: a refused or broken connection, a
  timeout or a 502/503/504 is tried again, twice, 50 and 100 ms apart. A write is sent once: a second POST could
  make a second review.

A failure is `common.errors.Unavailable` (503 with Retry-After). Every answer the service gives, a refusal included,
is the answer: it is the owner of reviews, and answers as the monolith's API would.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from common.circuit_breaker import CircuitBreaker
from common.errors import Unavailable
from common.service_calls import CallFailed, ServiceCalls
from common.service_identity import HEADER, sign_service_identity

SERVICE_AUDIENCE = "reviews"  # the identity's audience: the reviews service accepts only identities minted for it
SUMMARY_PATH = "/api/reviews/summary/"
REPEATABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Relayed:
    """The service's answer to a relayed request."""

    status: int
    headers: httpx.Headers
    content: bytes


class ReviewsServiceClient:
    def __init__(
        self, *, base_url: str, identity_key: str, timeout_s: float, breaker: CircuitBreaker | None = None
    ) -> None:
        self.identity_key = identity_key
        self.calls = ServiceCalls(base_url=base_url, timeout_s=timeout_s, breaker=breaker)

    @property
    def breaker(self) -> CircuitBreaker:
        return self.calls.breaker

    def relay(self, method: str, target: str, *, headers: Mapping[str, str], body: bytes) -> Relayed:
        """Send the request (`target`: path and query) as it is; its answer, whatever its status (5xx aside)."""
        response = self._call(method, target, headers=headers, body=body)
        if response.status_code == 401 and HEADER in headers:
            # The service verifies the identity with its STRANGLER_IDENTITY_KEY: the two keys may differ.
            logger.warning("reviews service refused the monolith's identity: check STRANGLER_IDENTITY_KEY")
        return Relayed(status=response.status_code, headers=response.headers, content=response.content)

    def rating_summary(self, *, product_id: int) -> dict[str, object]:
        headers = {HEADER: sign_service_identity(key=self.identity_key, audience=SERVICE_AUDIENCE)}
        response = self._call("GET", f"{SUMMARY_PATH}?product={product_id}", headers=headers, body=b"")
        if response.status_code != 200:
            raise self._unavailable(f"it refused the summary with {response.status_code}")
        try:
            summary = response.json()
            return {"count": int(summary["count"]), "average": summary["average"]}
        except (ValueError, KeyError, TypeError) as exc:
            raise self._unavailable("it answered something that is not a summary") from exc

    def _call(self, method: str, target: str, *, headers: Mapping[str, str], body: bytes) -> httpx.Response:
        try:
            return self.calls.call(
                method, target, headers=headers, content=body, repeatable=method in REPEATABLE_METHODS
            )
        except CallFailed as exc:
            # A write is sent once (a second POST could make a second review): it may have been applied.
            maybe_written = exc.maybe_applied and method not in REPEATABLE_METHODS
            raise self._unavailable(exc.why, maybe_written=maybe_written, retry_after=exc.retry_after) from exc

    def _unavailable(self, why: str, *, maybe_written: bool = False, retry_after: int = 1) -> Unavailable:
        logger.warning("reviews service at %s: %s", self.calls.base_url, why)
        outcome = (
            "the review may or may not have been written: read it back before trying again"
            if maybe_written
            else "nothing was changed"
        )
        return Unavailable(
            f"The reviews service cannot answer the monolith just now ({why}); {outcome}. "
            f"Try again in {retry_after} s.",
            retry_after=retry_after,
        )
