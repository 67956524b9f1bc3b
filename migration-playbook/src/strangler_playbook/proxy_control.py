"""`ProxyControl` over the proxy's admin API (httpx): holds, stages, data-state reports.

Configured from STRANGLER_ADMIN_URL (default http://127.0.0.1:8081) and STRANGLER_ADMIN_TOKEN; every route change
is audited in the route store as author STRANGLER_ACTOR (default "strangler data") with the step's reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import httpx

from strangler_playbook.cutover import DataState, Owner, WriteHold
from strangler_playbook.errors import ConnectError, StateError

DEFAULT_ADMIN_URL = "http://127.0.0.1:8081"
AUTHOR = "strangler data"
TIMEOUT_S = 15.0


class ProxyRefused(StateError):
    """The proxy's admin API refused a step (e.g. the data gate); `code` is its error code."""

    def __init__(self, message: str, *, code: str, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.code = code


@dataclass(frozen=True)
class RouteInfo:
    path: str
    stage: str
    percent: int
    data: str | None


class ProxyAdminControl:
    def __init__(self, url: str | None = None, token: str | None = None, *, author: str | None = None) -> None:
        self.url = (url or os.environ.get("STRANGLER_ADMIN_URL") or DEFAULT_ADMIN_URL).rstrip("/")
        token = token if token is not None else os.environ.get("STRANGLER_ADMIN_TOKEN", "")
        self.author = author or os.environ.get("STRANGLER_ACTOR") or AUTHOR
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=TIMEOUT_S)
        # The hold's waits as the proxy measured them, from the last release.
        self.last_release: dict[str, Any] = {}

    def close(self) -> None:
        self.client.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self.client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ConnectError(
                f"cannot reach the proxy's admin API at {self.url}: {exc}",
                hint="start `strangler proxy`, or set STRANGLER_ADMIN_URL to its admin listener",
            ) from exc
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code == 401:
            raise ConnectError(
                f"the proxy at {self.url} refused the admin token",
                hint="set STRANGLER_ADMIN_TOKEN to the proxy's token",
            )
        if response.status_code >= 400:
            code = str(data.get("error", response.status_code))
            raise ProxyRefused(
                f"the proxy refused {method} {path}: {data.get('detail', response.text.strip())}", code=code
            )
        return data

    def route(self, path: str) -> RouteInfo:
        table = self._call("GET", "/routes").get("table") or {"routes": []}
        for route in table["routes"]:
            if route["path"] == path and route.get("methods") is None:
                return RouteInfo(path, route["stage"], int(route.get("percent", 0)), route.get("data"))
        raise StateError(
            f"the proxy has no route {path} (every method) for this spec",
            hint=f"add it first: strangler routes set {path} --service SERVICE --stage shadow --reason ...",
        )

    def route_stage(self, route: str) -> str:
        return self.route(route).stage

    def set_stage(
        self, route: str, stage: str, *, reason: str, percent: int = 0, data: str | None = None
    ) -> dict[str, Any]:
        version = int(self._call("GET", "/routes")["version"])
        body: dict[str, Any] = {
            "path": route,
            "stage": stage,
            "reason": reason,
            "expected_version": version,
            "author": self.author,
        }
        if stage == "canary":
            body["percent"] = percent
        if data is not None:
            body["data"] = data
        result: dict[str, Any] = self._call("POST", "/routes", body)
        return result

    def publish_data_state(self, routes: tuple[str, ...], state: DataState, *, owner: Owner = "monolith") -> None:
        self._call(
            "PUT",
            "/data-state",
            {
                "spec": state.spec,
                "routes": list(routes),
                "phase": state.phase,
                "owner": owner,
                "lag_seconds": state.lag_s,
                "verify_clean": state.last_verify_clean,
                "verified_at": state.verified_at,
            },
        )

    def hold_writes(self, routes: tuple[str, ...], *, max_hold_s: float, max_queue: int) -> WriteHold:
        ids: list[str] = []
        try:
            for route in routes:
                body = {"path": route, "timeout": max_hold_s, "max_queue": max_queue, "reason": "strangler data"}
                ids.append(str(self._call("POST", "/holds", body)["id"]))
        except Exception:
            if ids:  # the routes held so far would otherwise wait for their timeout
                self.release_writes(WriteHold(",".join(ids), routes, max_hold_s), to="monolith")
            raise
        return WriteHold(",".join(ids), routes, max_hold_s)

    def release_writes(self, hold: WriteHold, *, to: Owner) -> None:
        """Release every hold of `hold`; one that expired already is not an error (its writes were refused)."""
        for hold_id in hold.hold_id.split(","):
            try:
                self.last_release = self._call("DELETE", "/holds", {"id": hold_id})
            except ProxyRefused as exc:
                if exc.code != "unknown_hold":
                    raise
