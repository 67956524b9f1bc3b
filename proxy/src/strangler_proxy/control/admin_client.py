"""The CLI's side of the admin API: httpx calls, errors translated into AdminCallFailed/AdminUnreachable."""

from __future__ import annotations

from typing import Any

import httpx

from strangler_proxy.control_errors import AdminCallFailed, AdminUnreachable

DEFAULT_ADMIN_URL = "http://127.0.0.1:8081"
TIMEOUT = httpx.Timeout(10.0, connect=3.0)


class AdminClient:
    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Accept": "application/json", "User-Agent": "strangler-cli"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # Loading the CA bundle costs ~100 ms per CLI run; a plain-HTTP admin URL never needs it.
        verify = not self.base_url.startswith("http://")
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=TIMEOUT, verify=verify)

    def close(self) -> None:
        self._client.close()

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return self._call("GET", path, params=params or None)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", path, json=body)

    def delete(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("DELETE", path, json=body)

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise AdminUnreachable(
                0,
                "admin_unreachable",
                f"cannot reach the admin API at {self.base_url} ({type(exc).__name__}: {exc}); is `strangler proxy` "
                f"running, and does STRANGLER_ADMIN_URL (or --admin-url) point at its admin listener?",
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or response.headers.get("x-strangler-admin") != "1":
            raise AdminUnreachable(
                response.status_code,
                "not_the_admin_api",
                f"{self.base_url} answered {response.status_code} without a JSON object: is this the admin listener "
                f"(STRANGLER_ADMIN_LISTEN), not the public one?",
            )
        if response.status_code >= 400:
            detail = str(body.get("detail") or body.get("error") or response.reason_phrase)
            if response.status_code == 401:
                detail += "; set STRANGLER_ADMIN_TOKEN to the proxy's admin token"
            raise AdminCallFailed(response.status_code, str(body.get("error", "error")), detail, body)
        return body
