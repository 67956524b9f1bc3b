"""The inventory service as the monolith's orders see it once the service owns inventory (docs/seam.md, "the order
saga"): the order operations under `/internal/inventory/`, over httpx, signed as the monolith's service principal
(`common.service_identity`).

- **every call may be repeated**: a hold carries the saga's key (the service answers a repeat with the first
  answer), and attach, release and fulfil find nothing left to do the second time. So a refused or broken
  connection, a timeout or a 502/503/504 is tried again with the same key, twice, 50 and 100 ms apart;
- **timeouts**: each attempt `timeout_s` (INVENTORY_SERVICE_TIMEOUT, 2 s); 0.5 s to connect;
- **breaker**: one per client (`common.circuit_breaker`), as the catalog's.

A 409 (not enough stock, or a hold given up before it arrived) is `common.errors.Conflict` with the service's code
and message; every other failure is `common.errors.Unavailable`, and then the caller cannot know whether the call
took effect: the saga's outbox repeats it until it knows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx

from common.circuit_breaker import BreakerOpen, CircuitBreaker
from common.errors import Conflict, Unavailable
from common.service_identity import HEADER, sign_service_identity

PREFIX = "/internal/inventory"
AUDIENCE = "inventory"  # the identity is minted for the inventory service (its upstream name; docs/identity.md)
CONNECT_TIMEOUT_S = 0.5
BACKOFF_S = (0.05, 0.1)
RETRIED_STATUSES = frozenset({502, 503, 504})

logger = logging.getLogger(__name__)


class InventoryServiceClient:
    def __init__(
        self, *, base_url: str, identity_key: str, timeout_s: float, breaker: CircuitBreaker | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.identity_key = identity_key
        self.timeout_s = timeout_s
        self.breaker = breaker or CircuitBreaker()
        self._local = threading.local()  # one pooled client per thread of the server

    def hold(self, *, key: str, lines: Mapping[int, int]) -> list[int]:
        """Reserve every line or none, under `key`; the ids of the reservations made (the same on a repeat)."""
        body = {"key": key, "lines": [{"product": p, "quantity": q} for p, q in sorted(lines.items())]}
        answer = self._post(f"{PREFIX}/order-holds/", body)
        try:
            return [int(r["id"]) for r in answer["reservations"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise self._unavailable("it answered a hold the monolith cannot read") from exc

    def attach(self, *, key: str, order_id: int) -> int:
        return self._count(f"{PREFIX}/order-holds/{key}/attach", {"order": order_id}, "reservations")

    def release_hold(self, *, key: str) -> int:
        return self._count(f"{PREFIX}/order-holds/{key}/release", {}, "released")

    def release_order(self, *, order_id: int) -> int:
        return self._count(f"{PREFIX}/orders/{order_id}/release", {}, "released")

    def fulfil_order(self, *, order_id: int) -> int:
        return self._count(f"{PREFIX}/orders/{order_id}/fulfil", {}, "fulfilled")

    def _count(self, path: str, body: dict[str, Any], name: str) -> int:
        answer = self._post(path, body)
        if type(answer.get(name)) is not int:
            raise self._unavailable(f"its answer to {path} has no count of {name!r}")
        return int(answer[name])

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            self.breaker.admit()
        except BreakerOpen as exc:
            raise self._unavailable("it failed repeatedly just before", retry_after=exc.retry_after) from exc
        why = "no attempt was made"
        for attempt in range(len(BACKOFF_S) + 1):
            if attempt:
                time.sleep(BACKOFF_S[attempt - 1])
            try:
                response = self._client().post(
                    path,
                    json=body,
                    headers={HEADER: sign_service_identity(key=self.identity_key, audience=AUDIENCE)},
                    timeout=httpx.Timeout(self.timeout_s, connect=min(CONNECT_TIMEOUT_S, self.timeout_s)),
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
            self.breaker.succeeded()
            return self._answer(response)
        self.breaker.failed()
        raise self._unavailable(why)

    def _answer(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
            error = data.get("error") if response.status_code >= 400 else None
        except (ValueError, AttributeError) as exc:
            raise self._unavailable(f"it answered {response.status_code} without a JSON object") from exc
        if response.status_code == 409 and isinstance(error, dict):
            raise Conflict(str(error.get("message")), code=str(error.get("code")))
        if response.status_code == 401:
            # The service verifies the identity with its STRANGLER_IDENTITY_KEY: the two keys differ.
            raise self._unavailable("it refused the monolith's identity: check both use one STRANGLER_IDENTITY_KEY")
        if response.status_code >= 400 or not isinstance(data, dict):
            raise self._unavailable(f"it refused the call with {response.status_code}")
        return data

    def _unavailable(self, why: str, *, retry_after: int = 1) -> Unavailable:
        logger.warning("inventory service at %s: %s", self.base_url, why)
        return Unavailable(
            f"The inventory service cannot answer the monolith just now ({why}). Try again in {retry_after} s.",
            retry_after=retry_after,
        )

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(base_url=self.base_url, headers={"Accept": "application/json"})
            self._local.client = client
        return client


def _transport_failure(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "it did not answer in time"
    if isinstance(exc, httpx.ConnectError):
        return "the connection was refused"
    return "the connection broke"
