"""`ProxyControl` over the proxy's admin API (httpx): routes, holds, data-state reports.

The admin API calls it makes, and nothing else:

    GET    /routes       {table: {routes: [...]}, version}      `route`, and the version `set_stage` sends back
    POST   /routes       {path, stage, percent?, data, reason, expected_version, author}   `set_stage`
    PUT    /data-state   {spec, routes, phase, owner, lag_seconds, verify_clean, verified_at}   `publish_data_state`
    POST   /holds        {path, timeout, max_queue, reason} -> {id, ...}   `hold_writes`, once per route
    DELETE /holds        {id} -> {released, waits}                         `release_writes`, once per route

Answers become the engine's errors: nothing answering or a 5xx → `ConnectError` (exit 3), 401/403 →
`NotAuthorised` (4), 409 `stale_version` → `Conflict` (2), any other refusal → `ProxyRefused` (5, its code kept).
"""

from __future__ import annotations

from typing import Any

import httpx

from strangler_playbook.errors import Conflict, ConnectError, NotAuthorised, ProxyRefused, StateError
from strangler_playbook.handover.proxy_seam import DataState, Owner, Release, RouteInfo, WriteHold

TIMEOUT_S = 15.0
HOLD_REASON = "strangler data"


class ProxyAdminControl:
    def __init__(self, url: str, token: str, *, author: str) -> None:
        """`url`, `token` and `author` as `Settings` read them (STRANGLER_ADMIN_URL, _TOKEN, STRANGLER_ACTOR)."""
        self.url = url.rstrip("/")
        self.author = author
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=TIMEOUT_S)

    def close(self) -> None:
        self.client.close()

    def route(self, path: str) -> RouteInfo:
        table = self._call("GET", "/routes").get("table") or {"routes": []}
        for route in table["routes"]:
            if route["path"] == path and route.get("methods") is None:
                return RouteInfo(path, route["stage"], int(route.get("percent", 0)), route.get("data"))
        raise StateError(
            f"the proxy has no route {path} (every method) for this spec",
            hint=f"add it first: strangler routes set {path} --service SERVICE --stage shadow --reason ...",
        )

    def set_stage(self, path: str, stage: str, *, percent: int, data: str, reason: str) -> None:
        version = int(self._call("GET", "/routes")["version"])
        body: dict[str, Any] = {
            "path": path,
            "stage": stage,
            "reason": reason,
            "expected_version": version,
            "author": self.author,
            "data": data,
        }
        if stage == "canary":
            body["percent"] = percent
        self._call("POST", "/routes", body)

    def publish_data_state(self, routes: tuple[str, ...], state: DataState, *, owner: Owner) -> None:
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
                body = {"path": route, "timeout": max_hold_s, "max_queue": max_queue, "reason": HOLD_REASON}
                ids.append(str(self._call("POST", "/holds", body)["id"]))
        except Exception:
            if ids:  # the routes held so far would otherwise wait for their timeout
                self.release_writes(WriteHold(",".join(ids), routes, max_hold_s), to="monolith")
            raise
        return WriteHold(",".join(ids), routes, max_hold_s)

    def release_writes(self, hold: WriteHold, *, to: Owner) -> Release:
        # The proxy sends released requests wherever its route table says; `to` is the caller's intent, already
        # written there by `set_stage`.
        released, waits = 0, {}
        for hold_id in hold.hold_id.split(","):
            try:
                answer = self._call("DELETE", "/holds", {"id": hold_id})
            except ProxyRefused as exc:
                if exc.code != "unknown_hold":
                    raise
                continue
            released += int(answer.get("released", 0))
            waits = dict(answer.get("waits") or {})
        return Release(released, waits)

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
        if not isinstance(data, dict):
            data = {}
        status = response.status_code
        if status < 400:
            return data
        code = str(data.get("error", status))
        detail = f"the proxy refused {method} {path}: {data.get('detail', response.text.strip())}"
        if status in (401, 403):
            raise NotAuthorised(
                f"the proxy at {self.url} refused the admin token",
                hint="set STRANGLER_ADMIN_TOKEN to the proxy's token",
            )
        if status == 409 and code == "stale_version":
            raise Conflict(detail, hint="the route table changed meanwhile: run the same command again")
        if status >= 500:
            raise ConnectError(
                f"the proxy's admin API at {self.url} failed: {detail}",
                hint="check the proxy's log (its route store may be unreachable), then run the same command again",
            )
        raise ProxyRefused(detail, code=code)
