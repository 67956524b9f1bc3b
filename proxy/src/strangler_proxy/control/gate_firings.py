# ruff: noqa: S608 - every statement names the constant TABLE; values always go in as parameters
"""Gate firings, kept where operators look: one row per firing in `strangler_gate_firings`, beside the route
versions (the route store's SQLite file or PostgreSQL database), shared by every replica and kept across restarts.

A row says when, which route, in which stage and route revision the evidence was taken, how many samples, why,
and what became of it (`rolled_back` with the version it made, `held` by the data state, `moved` meanwhile,
`failed`). `GET /gates` lists them; `strangler routes list` and `history` mark them, and the commands that change a
route warn about a recent one. At most `KEEP` rows are kept (oldest deleted first).

Methods block: the gate's action runs in a worker thread, the admin endpoint calls them through `to_thread`.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from strangler_proxy.compare.gates import GateOutcome, Verdict
from strangler_proxy.control.admin import AdminApp, Request
from strangler_proxy.dataplane.model import Route
from strangler_proxy.errors import Problem, StoreUnavailable, TableInvalid

TABLE = "strangler_gate_firings"
KEEP = 1000


@dataclass(frozen=True, slots=True)
class GateFiring:
    id: int
    at: str  # ISO 8601, UTC
    ts: float  # unix seconds
    route: str
    stage: str  # where the evidence was taken: `canary 10%`
    revision: int
    samples: int
    reasons: list[str]
    outcome: str  # rolled_back | held | moved | failed
    detail: str
    version: int | None  # the route table version a rollback made

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "age_s": round(time.time() - self.ts, 3)}


class GateFirings:
    """The `strangler_gate_firings` table on either engine of the route store."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = url.startswith(("postgresql://", "postgres://"))
        self.ph = "%s" if self.postgres else "?"
        key = "bigserial primary key" if self.postgres else "integer primary key autoincrement"
        with self._connect() as conn:
            conn.execute(f"create table if not exists {TABLE} (id {key}, ts double precision not null, firing text)")

    def record(self, route: Route, verdict: Verdict, outcome: GateOutcome) -> None:
        """Keep one firing (the `on_outcome` of `route_changes.gate_rollback`)."""
        now = time.time()
        firing = {
            "at": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
            "route": route.path,
            "stage": verdict.stage,
            "revision": verdict.revision,
            "samples": verdict.samples,
            "reasons": list(verdict.reasons),
            "outcome": outcome.action,
            "detail": outcome.detail,
            "version": outcome.table.version if outcome.table is not None else None,
        }
        with self._connect() as conn:
            conn.execute(f"insert into {TABLE} (ts, firing) values ({self.ph}, {self.ph})", (now, json.dumps(firing)))
            conn.execute(
                f"delete from {TABLE} where id <= (select max(id) from {TABLE}) - {self.ph}",
                (KEEP,),
            )

    def recent(self, *, route: str | None = None, limit: int = 50) -> list[GateFiring]:
        """Newest first."""
        with self._connect() as conn:
            rows = conn.execute(f"select id, ts, firing from {TABLE} order by id desc").fetchall()
        found = []
        for row_id, ts, text in rows:
            firing = json.loads(text)
            if route is None or firing["route"] == route:
                found.append(GateFiring(id=int(row_id), ts=float(ts), **firing))
                if len(found) == limit:
                    break
        return found

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        if self.postgres:
            import psycopg

            try:
                conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5, application_name="strangler-gates")
            except psycopg.Error as exc:
                raise StoreUnavailable(f"cannot reach the PostgreSQL database for gate firings: {exc}") from exc
            with conn:
                try:
                    yield conn
                except psycopg.Error as exc:
                    raise StoreUnavailable(f"gate firings table: {exc}") from exc
            return
        path = self.url.removeprefix("sqlite:///")
        try:
            sqlite_conn = sqlite3.connect(path, timeout=5.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open the gate firings table in {path!r}: {exc}") from exc
        with closing(sqlite_conn):
            try:
                yield sqlite_conn
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"gate firings table in {path!r}: {exc}") from exc


def open_gate_firings(url: str) -> GateFirings:
    """The firings table in the route store's database: same URL forms as `control.store.open_store`."""
    return GateFirings(url)


def add_gate_endpoints(admin: AdminApp, firings: GateFirings) -> None:
    """`GET /gates?route=PATH&limit=N`: `{"firings": [...]}`, newest first."""

    async def get_gates(request: Request) -> tuple[int, Any]:
        raw = request.query("limit") or "50"
        if not raw.isdigit() or not 1 <= int(raw) <= KEEP:
            raise TableInvalid([Problem("limit", f"must be a whole number between 1 and {KEEP}")])
        route = unquote_plus(request.query("route") or "") or None  # Request.query leaves values percent-encoded
        found = await asyncio.to_thread(firings.recent, route=route, limit=int(raw))
        return 200, {"firings": [f.as_dict() for f in found]}

    admin.add("GET", "/gates", get_gates)
