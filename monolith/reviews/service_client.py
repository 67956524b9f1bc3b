"""The reviews service as the monolith sees it once the service owns reviews (docs/seam.md §9): the monolith's own
reviews API relays each request to it, and the reviews' public interface (`selectors.rating_summary`) asks it, over
httpx, signed for the audience `reviews`.

- **identity**: a relayed request carries the identity the proxy would sign for the monolith's user
  (`common.service_identity.sign_identity`: user id, staff, and the `customer` claim, the customer id a review
  stores); an anonymous one carries none; the monolith's own lookups sign as its service principal;
- **timeouts**: `timeout_s` (REVIEWS_SERVICE_TIMEOUT, 2 s) bounds a call, retries included; 0.5 s to connect;
- **retries**: only for reads (GET, HEAD, OPTIONS), which may be repeated: a refused or broken connection, a
  timeout or a 502/503/504 is tried again, twice, 50 and 100 ms apart. A write is sent once: a second POST could
  make a second review;
- **breaker**: one per client (`common.circuit_breaker`): 5 failed calls in a row open it for 5 s, during which
  calls fail at once instead of each waiting out its timeout.

A failure is `common.errors.Unavailable` (503 with Retry-After). Every answer the service gives, a refusal included,
is the answer: it is the owner of reviews, and answers as the monolith's API would.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from common.circuit_breaker import BreakerOpen, CircuitBreaker
from common.errors import Unavailable
from common.service_identity import HEADER, sign_service_identity

SERVICE_AUDIENCE = "reviews"  # the identity's audience: the reviews service accepts only identities minted for it
SUMMARY_PATH = "/api/reviews/summary/"
CONNECT_TIMEOUT_S = 0.5
BACKOFF_S = (0.05, 0.1)
RETRIED_STATUSES = frozenset({502, 503, 504})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

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
        self.base_url = base_url.rstrip("/")
        self.identity_key = identity_key
        self.timeout_s = timeout_s
        self.breaker = breaker or CircuitBreaker()
        self._local = threading.local()  # one pooled client per thread of the server

    def relay(self, method: str, target: str, *, headers: Mapping[str, str], body: bytes) -> Relayed:
        """Send the request (`target`: path and query) as it is; its answer, whatever its status (5xx aside)."""
        response = self._call(method, target, headers=headers, body=body)
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
            self.breaker.admit()
        except BreakerOpen as exc:
            raise self._unavailable("it failed repeatedly just before", retry_after=exc.retry_after) from exc
        deadline = time.monotonic() + self.timeout_s
        attempts = len(BACKOFF_S) + 1 if method in SAFE_METHODS else 1
        why, maybe_written = "no time was left to ask", False
        for attempt in range(attempts):
            if attempt:
                time.sleep(BACKOFF_S[attempt - 1])
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                response = self._client().request(
                    method,
                    target,
                    headers=dict(headers),
                    content=body or None,
                    timeout=httpx.Timeout(remaining, connect=min(CONNECT_TIMEOUT_S, remaining)),
                )
            except httpx.TransportError as exc:
                why = _transport_failure(exc)
                # A write whose connection was refused never reached the service; any other failure may have.
                maybe_written = method not in SAFE_METHODS and not isinstance(exc, httpx.ConnectError)
                continue
            if response.status_code in RETRIED_STATUSES:
                why, maybe_written = f"it answered {response.status_code}", method not in SAFE_METHODS
                continue
            if response.status_code >= 500:
                self.breaker.failed()
                raise self._unavailable(f"it answered {response.status_code}", maybe_written=method not in SAFE_METHODS)
            self.breaker.succeeded()
            if response.status_code == 401 and HEADER in headers:
                # The service verifies the identity with its STRANGLER_IDENTITY_KEY: the two keys differ.
                logger.error("reviews service refused the monolith's identity: check STRANGLER_IDENTITY_KEY")
            return response
        self.breaker.failed()
        raise self._unavailable(why, maybe_written=maybe_written)

    def _unavailable(self, why: str, *, maybe_written: bool = False, retry_after: int = 1) -> Unavailable:
        logger.warning("reviews service at %s: %s", self.base_url, why)
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

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(base_url=self.base_url)
            self._local.client = client
        return client


def _transport_failure(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "it did not answer in time"
    if isinstance(exc, httpx.ConnectError):
        return "the connection was refused"
    return "the connection broke"
