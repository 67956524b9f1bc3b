"""One service asking another over HTTP (httpx): GET only, so every call may be repeated.

- **timeouts**: `timeout_s` bounds a call, retries included; `CONNECT_TIMEOUT_S` to connect;
- **retries**: a refused or broken connection, a timeout or a 502/503/504 is tried again, twice, 50 and 100 ms
  apart; any other answer is final;
- **breaker**: one per client (`strangler_kit.circuit_breaker`): 5 failed calls in a row open it for 5 s, during
  which calls fail at once instead of each waiting out its timeout.

Every failure is `strangler_kit.errors.Unavailable` (the API's 503 with Retry-After), raised before the caller has
written anything. The caller asks anonymously unless it passes headers: through the proxy, whoever owns the data
answers, as it would answer any client.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx

from strangler_kit.circuit_breaker import BreakerOpen, CircuitBreaker
from strangler_kit.errors import Unavailable

CONNECT_TIMEOUT_S = 0.5
BACKOFF_S = (0.05, 0.1)
RETRIED_STATUSES = frozenset({502, 503, 504})

logger = logging.getLogger(__name__)


class ServiceClient:
    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        timeout_s: float,
        breaker: CircuitBreaker | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.breaker = breaker or CircuitBreaker()
        self._transport = transport
        self._local = threading.local()  # one pooled client per thread of the server

    def get_json(self, path: str, *, params: Mapping[str, str], headers: Mapping[str, str] | None = None) -> Any:
        """The JSON of a 200 answer to GET `path`; Unavailable for anything else."""
        response = self._get(path, params, headers or {})
        try:
            return response.json()
        except ValueError as exc:
            raise self._unavailable("it answered something that is not JSON") from exc

    def _get(self, path: str, params: Mapping[str, str], headers: Mapping[str, str]) -> httpx.Response:
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
                    params=dict(params),
                    headers=dict(headers),
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
                raise self._unavailable(f"it refused the lookup with {response.status_code}")
            return response
        self.breaker.failed()
        raise self._unavailable(why)

    def _unavailable(self, why: str, *, retry_after: int = 1) -> Unavailable:
        logger.warning("%s at %s: %s", self.name, self.base_url, why)
        return Unavailable(
            f"The {self.name} cannot answer just now ({why}); nothing was changed. Try again in {retry_after} s.",
            retry_after=retry_after,
        )

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(
                base_url=self.base_url, headers={"Accept": "application/json"}, transport=self._transport
            )
            self._local.client = client
        return client


def _transport_failure(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "it did not answer in time"
    if isinstance(exc, httpx.ConnectError):
        return "the connection was refused"
    return "the connection broke"
