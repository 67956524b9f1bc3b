"""`ProxyControl` over the proxy's one admin-API client (`strangler_proxy.control.admin_client.AdminClient`).

The client speaks HTTP and raises the proxy's errors; this adapter turns a `RouteInfo`, a `WriteHold`, a
`DataState` into its calls and each of its errors into the engine's, at this boundary (`translate`, always
`raise … from exc`): nothing answering (or not the admin API) → `ConnectError` (exit 3), 401/403 →
`NotAuthorised` (4), 409 `stale_version` → `Conflict` (2), a 5xx → `ConnectError` (3), any other refusal →
`ProxyRefused` (5, its code kept).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from strangler_proxy.control.admin_client import AdminCallFailed, AdminClient, AdminUnreachable

from strangler_playbook.errors import Conflict, ConnectError, NotAuthorised, PlaybookError, ProxyRefused, StateError
from strangler_playbook.handover.proxy_seam import DataState, Owner, Release, RouteInfo, WriteHold

HOLD_REASON = "strangler data"


class ProxyAdminControl:
    def __init__(self, url: str, token: str, *, author: str) -> None:
        """`url`, `token` and `author` as `Settings` read them (STRANGLER_ADMIN_URL, _TOKEN, STRANGLER_ACTOR)."""
        self.url = url.rstrip("/")
        self.client = AdminClient(self.url, token or None, author=author)
        # Renewals come from the run's lease keeper, a thread of its own: they get a client of their own.
        self._renewals = AdminClient(self.url, token or None, author=author)
        self._renewals_lock = threading.Lock()

    def close(self) -> None:
        self.client.close()
        self._renewals.close()

    def route(self, path: str) -> RouteInfo:
        route = _call(self.client.route, path)
        if route is None:
            raise StateError(
                f"the proxy has no route {path} (every method) for this spec",
                hint=f"add it first: strangler routes set {path} --service SERVICE --stage shadow --reason ...",
            )
        return RouteInfo(path, route["stage"], int(route.get("percent", 0)), route.get("data"))

    def set_stage(self, path: str, stage: str, *, percent: int, data: str, reason: str) -> None:
        _call(self.client.set_stage, path, stage, reason=reason, percent=percent, data=data)

    def data_owner(self, spec: str) -> Owner | None:
        state = _call(self.client.data_state, spec)
        owner = None if state is None else state.get("owner")
        return "service" if owner == "service" else "monolith" if owner == "monolith" else None

    def publish_data_state(
        self, routes: tuple[str, ...], state: DataState, *, owner: Owner, fence: WriteHold | None = None
    ) -> None:
        _call(
            self.client.report_data_state,
            spec=state.spec,
            routes=routes,
            phase=state.phase,
            owner=owner,
            lag_seconds=state.lag_s,
            verify_clean=state.last_verify_clean,
            verified_at=state.verified_at,
            fence=None if fence is None else fence.ids,
        )

    def hold_writes(
        self,
        routes: tuple[str, ...],
        *,
        max_hold_s: float,
        max_queue: int,
        holder: str,
        lease_s: float,
        settle_s: float = 0.0,
    ) -> WriteHold:
        answers = _call(
            self.client.hold_each,
            routes,
            timeout=max_hold_s,
            max_queue=max_queue,
            reason=f"{HOLD_REASON} ({holder})",
            holder=holder,
            lease=lease_s,
            settle=settle_s,
        )
        held_for = float(answers[0].get("age_s") or 0.0) if answers else 0.0  # the first settled; it was held longest
        return WriteHold(",".join(str(a["id"]) for a in answers), routes, max_hold_s, held_for)

    def renew_writes(self, hold: WriteHold) -> bool:
        with self._renewals_lock:
            answer = _call(self._renewals.renew, hold.ids)
        return not answer.get("ended")

    def holds_of(self, holder: str) -> WriteHold:
        held = _call(self.client.holds, holder)["holds"]
        return WriteHold(",".join(h["id"] for h in held), tuple(h["path"] for h in held), 0.0)

    def release_writes(self, hold: WriteHold, *, to: Owner) -> Release:
        # The proxy sends released requests to the owner it holds; `to` is the caller's intent, already published.
        released, waits = 0, {}
        for hold_id in hold.ids:
            answer = _call(self.client.release, hold_id)
            if answer is None:  # released already, or ended by the proxy: not an error
                continue
            released += int(answer.get("released", 0))
            waits = dict(answer.get("waits") or {})
        return Release(released, waits)

    def finish(self, hold: WriteHold, *, stages: dict[str, tuple[str, int]], data: str, reason: str) -> Release:
        routes = [
            {"path": path, "stage": stage, "data": data, **({"percent": percent} if stage == "canary" else {})}
            for path, (stage, percent) in stages.items()
        ]
        answer = _call(self.client.finish_holds, hold.ids, routes=routes, reason=reason)
        return Release(int(answer.get("released", 0)), dict(answer.get("waits") or {}))


def _call[**P, T](method: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    try:
        return method(*args, **kwargs)
    except AdminCallFailed as exc:
        raise translate(exc) from exc


def translate(exc: AdminCallFailed) -> PlaybookError:
    """The engine's error (and so its exit code) for an error of the admin client."""
    if isinstance(exc, AdminUnreachable):
        return ConnectError(
            f"cannot reach the proxy's admin API: {exc}",
            hint="start `strangler proxy`, or set STRANGLER_ADMIN_URL to its admin listener",
        )
    detail = f"the proxy refused: {exc.detail}"
    if exc.status in (401, 403):
        return NotAuthorised(
            "the proxy refused the admin token", hint="set STRANGLER_ADMIN_TOKEN to the proxy's admin token"
        )
    if exc.status == 409 and exc.code == "stale_version":
        return Conflict(detail, hint="the route table changed meanwhile: run the same command again")
    if exc.status >= 500:
        return ConnectError(
            f"the proxy's admin API failed: {exc.detail}",
            hint="check the proxy's log (its route store may be unreachable), then run the same command again",
        )
    return ProxyRefused(detail, code=exc.code)
