"""The one client of the proxy's admin API (httpx), for the `strangler` CLI and for the migration engine.

    with AdminClient.from_env(author="strangler data") as admin:   # STRANGLER_ADMIN_URL, _TOKEN, STRANGLER_ACTOR
        admin.route("/api/catalog")                  # the route's dict (as GET /routes has it), or None
        admin.set_stage("/api/catalog", "canary", percent=10, reason="10% of readers")
        ids = admin.hold_writes(["/api/catalog"], timeout=10, max_queue=1000, reason="cutover")
        admin.report_data_state(spec="catalog", routes=["/api/catalog"], phase="live", owner="service",
                                lag_seconds=0.1, verify_clean=True, verified_at="2026-11-25T15:00:00+00:00")
        admin.release(ids[0])                        # the release's answer, with the hold's measured waits

Public API (every method blocks; each returns the admin API's JSON answer unless it says otherwise):

* route table — `routes()` (`GET /routes`: version, table, ...), `version()`, `route(path, methods=None)` (one
  route's dict or None), `table_at(version)`, `history(limit)`; changes, each audited with `author` and the
  `reason`, stating the version read (`expected_version`, read now when not given): `set_route(path, ...,
  **fields)`, `set_stage(path, stage, percent=, data=)`, `remove_route(path)`, `plan(table)` (a dry run),
  `apply(table, expected_version=)`, `rollback(to_version=)`, `set_upstream(name, **fields)`,
  `remove_upstream(name)`;
* cutover — `hold(path, timeout=, max_queue=, holder=, lease=)` (returns once no write forwarded before it is in
  flight), `hold_writes(paths, ...)` (every path or none: ids), `renew(ids)` (the holder is alive: each lease runs
  again; `{"renewed", "ended"}`), `release(hold_id)` (None when the hold is gone already: released, or ended by the
  proxy and its writes let go on), `finish_holds(ids, routes=, reason=)` (routes to their stages, then the holds
  released: one call), `holds(holder=)` (those whose holder starts with it), `report_data_state(...,
  fence=)` (`PUT /data-state`, what the data gate decides on and the owner writes go to; a change of owner needs
  `fence`, the ids of live holds covering its routes), `data_states()`, `data_state(spec)` (one, or None);
* comparison — `compare()`, `diffs(route=, limit=)`, `diff(mismatch_id)`, `gate_firings(route=, limit=)` (what
  the comparison gates did, newest first); and `healthz()`;
* raw calls for anything else — `get(path, **query)`, `post`, `put`, `delete` (a JSON body).

Errors (`errors.py`): `AdminUnreachable` when nothing, or not the admin listener, answers at the URL (exit 3);
`AdminCallFailed` with the API's `status`, `code` (its "error", e.g. `stale_version` 409, `data_not_ready` 409,
`unauthorized` 401, `validation_failed` 422 with `body["problems"]`) and whole `body` otherwise. The CLI maps them
to exit codes with `cli/exit_codes.exit_code_for`.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self

import httpx

from strangler_proxy.errors import AdminCallFailed, AdminUnreachable, StranglerError

# The client and the errors it raises: what a caller outside the proxy (the migration engine) may import.
__all__ = ["DEFAULT_ADMIN_URL", "AdminCallFailed", "AdminClient", "AdminUnreachable", "default_author"]
DEFAULT_ADMIN_URL = "http://127.0.0.1:8081"
TIMEOUT = httpx.Timeout(10.0, connect=3.0)
HOLD_MARGIN = 5.0  # seconds on top of a hold's own timeout: POST /holds answers once writes in flight are done


def default_author() -> str:
    """`user@host`, what the audit log records when STRANGLER_ACTOR is not set."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class AdminClient:
    def __init__(
        self, base_url: str = DEFAULT_ADMIN_URL, token: str | None = None, *, author: str | None = None
    ) -> None:
        """`author` goes with every change (the audit log's "who"); None lets the proxy record the caller's address."""
        self.base_url = base_url.rstrip("/")
        self.author = author
        headers = {"Accept": "application/json", "User-Agent": "strangler-admin-client"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # Loading the CA bundle costs ~100 ms per CLI run; a plain-HTTP admin URL never needs it.
        verify = not self.base_url.startswith("http://")
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=TIMEOUT, verify=verify)

    @classmethod
    def from_env(cls, *, author: str | None = None) -> AdminClient:
        """STRANGLER_ADMIN_URL (default http://127.0.0.1:8081), STRANGLER_ADMIN_TOKEN, and STRANGLER_ACTOR (else
        `author`, else user@host) as the author of changes."""
        return cls(
            os.environ.get("STRANGLER_ADMIN_URL") or DEFAULT_ADMIN_URL,
            os.environ.get("STRANGLER_ADMIN_TOKEN"),
            author=os.environ.get("STRANGLER_ACTOR") or author or default_author(),
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    # --- raw calls -----------------------------------------------------------------------------------------------

    def get(self, path: str, **query: Any) -> dict[str, Any]:
        return self._call("GET", path, params=query or None)

    def post(self, path: str, body: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        return self._call("POST", path, json=body, timeout=timeout or TIMEOUT)

    def put(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", path, json=body)

    def delete(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("DELETE", path, json=body)

    # --- the route table -------------------------------------------------------------------------------------------

    def routes(self) -> dict[str, Any]:
        """`{"version", "table", "changed_at", "author", "reason"}`; `table` is None in an empty store."""
        return self.get("/routes")

    def version(self) -> int:
        return int(self.routes()["version"])

    def route(self, path: str, methods: Iterable[str] | None = None) -> dict[str, Any] | None:
        """The route with this path and methods (None: the rule for every method), as the table holds it."""
        wanted = sorted(m.upper() for m in methods) if methods is not None else None
        table = self.routes().get("table") or {"routes": []}
        return next((r for r in table["routes"] if r["path"] == path and r.get("methods") == wanted), None)

    def table_at(self, version: int) -> dict[str, Any]:
        return self.get(f"/versions/{version}")

    def history(self, limit: int = 50) -> dict[str, Any]:
        return self.get("/history", limit=limit)

    def set_route(
        self, path: str, *, reason: str, expected_version: int | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Create or change the rule for `path` (and `methods=[...]`, when given); fields not given keep their value."""
        return self.post("/routes", self._change({"path": path, **fields}, reason, expected_version))

    def set_stage(
        self, path: str, stage: str, *, reason: str, percent: int = 0, data: str | None = None
    ) -> dict[str, Any]:
        """Move the every-method route `path` to `stage` (`percent` for canary; `data` names the spec it stands on)."""
        fields: dict[str, Any] = {"stage": stage}
        if stage == "canary":
            fields["percent"] = percent
        if data is not None:
            fields["data"] = data
        return self.set_route(path, reason=reason, **fields)

    def remove_route(
        self, path: str, *, reason: str, methods: list[str] | None = None, expected_version: int | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"path": path}
        if methods:
            body["methods"] = methods
        return self.delete("/routes", self._change(body, reason, expected_version))

    def plan(self, table: dict[str, Any]) -> dict[str, Any]:
        """What applying `table` would change: `{"dry_run", "version", "changed", "diff"}`; nothing is written."""
        return self.post("/apply", {"table": table, "dry_run": True})

    def apply(self, table: dict[str, Any], *, reason: str, expected_version: int) -> dict[str, Any]:
        return self.post("/apply", self._change({"table": table}, reason, expected_version))

    def rollback(
        self, *, reason: str, to_version: int | None = None, expected_version: int | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {} if to_version is None else {"to_version": to_version}
        return self.post("/rollback", self._change(body, reason, expected_version))

    def set_upstream(
        self, name: str, *, reason: str, expected_version: int | None = None, **fields: Any
    ) -> dict[str, Any]:
        return self.post("/upstreams", self._change({"name": name, **fields}, reason, expected_version))

    def remove_upstream(self, name: str, *, reason: str, expected_version: int | None = None) -> dict[str, Any]:
        return self.delete("/upstreams", self._change({"name": name}, reason, expected_version))

    # --- cutover: write holds and data states ------------------------------------------------------------------

    def hold(
        self,
        path: str,
        *,
        timeout: float,
        max_queue: int,
        reason: str = "",
        holder: str = "",
        lease: float | None = None,
        settle: float = 0.0,
    ) -> dict[str, Any]:
        """Hold `path`'s unsafe requests for `timeout` seconds at most (with a `lease`: only while `holder` renews
        it); `{"id", "age_s", ...}` once none forwarded earlier is in flight (409 `writes_in_flight` if they outlive
        the timeout: no hold then). `settle`: start holding at the first moment within that many seconds with no
        write in flight on the path (`age_s` then says how long writes have been held)."""
        body: dict[str, Any] = {"path": path, "timeout": timeout, "max_queue": max_queue, "reason": reason}
        if holder:
            body["holder"] = holder
        if lease is not None:
            body["lease"] = lease
        if settle:
            body["settle"] = settle
        return self.post("/holds", body, timeout=settle + timeout + HOLD_MARGIN)

    def hold_writes(
        self,
        paths: Iterable[str],
        *,
        timeout: float,
        max_queue: int,
        reason: str = "",
        holder: str = "",
        lease: float | None = None,
        settle: float = 0.0,
    ) -> list[str]:
        """Hold every path, or none (`hold_each`): the holds' ids."""
        answers = self.hold_each(
            paths, timeout=timeout, max_queue=max_queue, reason=reason, holder=holder, lease=lease, settle=settle
        )
        return [str(held["id"]) for held in answers]

    def hold_each(
        self,
        paths: Iterable[str],
        *,
        timeout: float,
        max_queue: int,
        reason: str = "",
        holder: str = "",
        lease: float | None = None,
        settle: float = 0.0,
    ) -> list[dict[str, Any]]:
        """Hold every path, or none: if one hold fails, those already started are released before the error. Only
        the first path settles (`hold`): the others are held at once after it. Each hold's answer, in order."""
        answers: list[dict[str, Any]] = []
        try:
            for n, path in enumerate(paths):
                answers.append(
                    self.hold(
                        path,
                        timeout=timeout,
                        max_queue=max_queue,
                        reason=reason,
                        holder=holder,
                        lease=lease,
                        settle=settle if n == 0 else 0.0,
                    )
                )
        except Exception:
            for held in answers:  # the paths held so far would otherwise wait for their timeout
                with contextlib.suppress(StranglerError):  # if this fails too, they expire by themselves
                    self.release(str(held["id"]))
            raise
        return answers

    def release(self, hold_id: str) -> dict[str, Any] | None:
        """Let the held requests go on; the answer carries `released` and the measured `waits`. None when the hold
        is gone already (released before, or expired: its writes were refused with 503, nothing was written)."""
        try:
            return self.delete("/holds", {"id": hold_id})
        except AdminCallFailed as exc:
            if exc.code == "unknown_hold":
                return None
            raise

    def finish_holds(
        self, hold_ids: Iterable[str], *, routes: Iterable[dict[str, Any]] = (), reason: str
    ) -> dict[str, Any]:
        """One call ends a handover's hold: each of `routes` (`{"path", "stage", "percent"?, "data"?}`) set to its stage
        while the writes are still held (one audited commit; those at their stage already are left alone), then every
        hold released. The answer has `released`, `waits`, `ended` (holds that had ended already) and the table's
        `version`. Safe to send again: nothing changes twice."""
        body: dict[str, Any] = {"ids": list(hold_ids), "routes": list(routes), "reason": reason}
        if self.author is not None:
            body["author"] = self.author
        return self.post("/holds/finish", body)

    def renew(self, hold_ids: Iterable[str]) -> dict[str, Any]:
        """`{"renewed": [...], "ended": [...]}`: each lease runs again from now; an ended hold stays ended."""
        return self.post("/holds/renew", {"ids": list(hold_ids)})

    def holds(self, holder: str = "") -> dict[str, Any]:
        """`{"holds": [...], "waits": {...}}`: the active holds whose holder starts with `holder` (all by default)."""
        return self.get("/holds", holder=holder) if holder else self.get("/holds")

    def report_data_state(
        self,
        *,
        spec: str,
        routes: Iterable[str],
        phase: str,
        owner: str,
        lag_seconds: float | None,
        verify_clean: bool | None,
        verified_at: str | None,
        fence: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """The engine's report on a spec's data (`owner`: "monolith" or "service"); the data gate decides on it and
        the data plane sends the spec's writes to its owner. A new owner is accepted only with `fence` (409
        `holds_not_in_place` else): the ids of live holds covering every route of the spec."""
        body: dict[str, Any] = {
            "spec": spec,
            "routes": list(routes),
            "phase": phase,
            "owner": owner,
            "lag_seconds": lag_seconds,
            "verify_clean": verify_clean,
            "verified_at": verified_at,
        }
        if fence is not None:
            body["fence"] = list(fence)
        return self.put("/data-state", body)

    def data_states(self) -> dict[str, Any]:
        return self.get("/data-state")

    def data_state(self, spec: str) -> dict[str, Any] | None:
        """The last report on `spec` (with its `owner`), or None when the proxy has none."""
        return next((s for s in self.data_states()["states"] if s["spec"] == spec), None)

    # --- comparison --------------------------------------------------------------------------------------------

    def compare(self) -> dict[str, Any]:
        return self.get("/compare")

    def diffs(self, *, route: str | None = None, limit: int = 50) -> dict[str, Any]:
        return self.get("/diffs", limit=limit, **({"route": route} if route else {}))

    def diff(self, mismatch_id: int) -> dict[str, Any]:
        return self.get("/diffs/one", id=mismatch_id)

    def gate_firings(self, *, route: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The comparison gates' firings, newest first: `{"at", "age_s", "route", "stage", "revision", "samples",
        "reasons", "outcome", "detail", "version"}` each (`control/gate_firings.py`)."""
        firings = self.get("/gates", limit=limit, **({"route": route} if route else {}))["firings"]
        return list(firings)

    def healthz(self) -> dict[str, Any]:
        return self.get("/healthz")

    # --- one call --------------------------------------------------------------------------------------------

    def _change(self, body: dict[str, Any], reason: str, expected_version: int | None) -> dict[str, Any]:
        change = {**body, "reason": reason}
        change["expected_version"] = self.version() if expected_version is None else expected_version
        if self.author is not None:
            change["author"] = self.author
        return change

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
