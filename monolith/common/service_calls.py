"""One request from the monolith to a service it reaches through a seam (docs/seam.md), over httpx: what the seams'
clients share.

- **timeouts**: `timeout_s` bounds a call, retries included; `CONNECT_TIMEOUT_S` to connect;
- **retries**: only for a `repeatable` request (a read, or a write the service dedupes): a refused or broken
  connection, a timeout or a 502/503/504 is tried again, twice, 50 and 100 ms apart;
- **breaker**: one per caller (`common.circuit_breaker`): 5 failed calls in a row open it for 5 s, during which calls
  fail at once instead of each waiting out its timeout;
- **connections**: one pooled httpx client per thread of the server.

Any answer under 500 is the service's answer and returned; a failure is `CallFailed`, which says why and whether the
request may have reached the service (`maybe_applied`): the seam's client turns it into the API's error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

import httpx

from common.circuit_breaker import BreakerOpen, CircuitBreaker

CONNECT_TIMEOUT_S = 0.5
BACKOFF_S = (0.05, 0.1)
RETRIED_STATUSES = frozenset({502, 503, 504})


class CallFailed(Exception):
    def __init__(self, why: str, *, maybe_applied: bool = False, retry_after: int = 1) -> None:
        super().__init__(why)
        self.why = why
        self.maybe_applied = maybe_applied
        self.retry_after = retry_after


class ServiceCalls:
    def __init__(
        self,
        *,
        base_url: str,
        timeout_s: float,
        breaker: CircuitBreaker | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.breaker = breaker or CircuitBreaker()
        self._headers = dict(headers or {})
        self._local = threading.local()

    def call(
        self,
        method: str,
        target: str,
        *,
        repeatable: bool,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """The service's answer to `method target` (any status under 500), or CallFailed."""
        try:
            self.breaker.admit()
        except BreakerOpen as exc:
            raise CallFailed("it failed repeatedly just before", retry_after=exc.retry_after) from exc
        deadline = time.monotonic() + self.timeout_s
        attempts = len(BACKOFF_S) + 1 if repeatable else 1
        why, maybe_applied = "no time was left to ask", False
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
                    params=dict(params) if params is not None else None,
                    headers=dict(headers or {}),
                    content=content or None,
                    timeout=httpx.Timeout(remaining, connect=min(CONNECT_TIMEOUT_S, remaining)),
                )
            except httpx.TransportError as exc:
                why = transport_failure(exc)
                # A refused connection never reached the service; any other failure may have.
                maybe_applied = maybe_applied or not isinstance(exc, httpx.ConnectError)
                continue
            if response.status_code in RETRIED_STATUSES:
                why, maybe_applied = f"it answered {response.status_code}", True
                continue
            if response.status_code >= 500:
                self.breaker.failed()
                raise CallFailed(f"it answered {response.status_code}", maybe_applied=True)
            self.breaker.succeeded()  # it answers: a refusal is not a reason to stop asking it
            return response
        self.breaker.failed()
        raise CallFailed(why, maybe_applied=maybe_applied)

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(base_url=self.base_url, headers=self._headers)
            self._local.client = client
        return client


def transport_failure(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "it did not answer in time"
    if isinstance(exc, httpx.ConnectError):
        return "the connection was refused"
    return "the connection broke"
