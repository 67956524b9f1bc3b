# ruff: noqa: S608 - every statement names the constant TABLE; values always go in as parameters
"""Routes gated by their data: the proxy refuses `canary` or `live` for a route whose data is not ready.

A route declares the data it stands on with `data = "<spec>"` (the migration spec's name) in the route table. A
route without it (a pure read-through service, or one whose data needs no move) is never gated. The migration
engine reports each spec's state (`PUT /data-state`, `strangler data publish|cutover|rollback`); it is kept in
`strangler_data_state`, beside the route versions in the route store's database (SQLite file or PostgreSQL).

Every commit to the route store passes `DataGate.check(current, new)` (store.py calls it), so the admin API, the
CLI, `apply`, `rollback` and the comparator's gates are all held to it. Entering a stage is refused when:

| entering | refused unless |
|---|---|
| `canary` | a report fresher than `max_age`, owner `monolith`, last verify clean, sync lag ≤ `max_lag` |
| `live` | a report fresher than `max_age`, owner `service` (set by `strangler data cutover`), verify clean |

Only a *change into* canary or live is checked (a new route, another stage, or another `data`); a route that is
already there keeps serving whatever the engine reports later, since moving it is the operator's or a gate's call.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from strangler_proxy.dataplane.model import Route, RouteTable, Stage
from strangler_proxy.errors import DataNotReady, Problem, StoreUnavailable, TableInvalid

TABLE = "strangler_data_state"
SPEC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
OWNERS = ("monolith", "service")
DEFAULT_MAX_LAG = 1.0
DEFAULT_MAX_AGE = 600.0


@dataclass(frozen=True, slots=True)
class DataState:
    spec: str
    routes: tuple[str, ...]
    phase: str  # the engine's words: "syncing", "cutover", "live", ...
    owner: str  # system of record: monolith | service
    lag_seconds: float | None
    verify_clean: bool | None
    verified_at: str | None
    reported_at: float  # unix time, set by the proxy when stored

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["routes"] = list(self.routes)
        data["age_s"] = round(time.time() - self.reported_at, 3)
        return data


def state_from_dict(raw: dict[str, Any]) -> DataState:
    """Parse a `PUT /data-state` body; raises TableInvalid naming every bad field."""
    problems: list[Problem] = []
    spec = raw.get("spec")
    if not isinstance(spec, str) or not SPEC_NAME.match(spec):
        problems.append(Problem("spec", "is required: the migration spec's name (lowercase, e.g. catalog)"))
    routes = raw.get("routes", [])
    if not isinstance(routes, list) or not all(isinstance(r, str) and r.startswith("/") for r in routes):
        problems.append(Problem("routes", "must be a list of route paths such as /api/catalog"))
        routes = []
    phase = raw.get("phase")
    if not isinstance(phase, str) or not phase:
        problems.append(Problem("phase", "is required: the engine's phase"))
    owner = raw.get("owner")
    if owner not in OWNERS:
        problems.append(Problem("owner", f"is required: one of {', '.join(OWNERS)} (the system of record)"))
    lag = raw.get("lag_seconds")
    if lag is not None and (isinstance(lag, bool) or not isinstance(lag, (int, float)) or lag < 0):
        problems.append(Problem("lag_seconds", "must be a number of seconds ≥ 0, or null when unknown"))
    clean = raw.get("verify_clean")
    if clean is not None and not isinstance(clean, bool):
        problems.append(Problem("verify_clean", "must be true, false or null (never verified)"))
    verified_at = raw.get("verified_at")
    if verified_at is not None and not isinstance(verified_at, str):
        problems.append(Problem("verified_at", "must be an ISO 8601 time or null"))
    unknown = sorted(set(raw) - {"spec", "routes", "phase", "owner", "lag_seconds", "verify_clean", "verified_at"})
    problems.extend(Problem(k, "is not a data-state field") for k in unknown)
    if problems:
        raise TableInvalid(problems)
    return DataState(
        spec=str(spec),
        routes=tuple(str(r) for r in routes),
        phase=str(phase),
        owner=str(owner),
        lag_seconds=None if lag is None else float(lag),
        verify_clean=clean,
        verified_at=verified_at,
        reported_at=time.time(),
    )


class DataStates(ABC):
    """The `strangler_data_state` table; blocking methods (call from worker threads)."""

    def put(self, state: DataState) -> None:
        payload = json.dumps(asdict(state))
        self._put(state.spec, payload, state.reported_at)

    def get(self, spec: str) -> DataState | None:
        raw = self._get(spec)
        return _decode(raw) if raw is not None else None

    def all(self) -> list[DataState]:
        return [_decode(raw) for raw in self._all()]

    @abstractmethod
    def _put(self, spec: str, payload: str, reported_at: float) -> None: ...

    @abstractmethod
    def _get(self, spec: str) -> str | None: ...

    @abstractmethod
    def _all(self) -> list[str]: ...


def _decode(raw: str) -> DataState:
    data = json.loads(raw)
    data["routes"] = tuple(data["routes"])
    return DataState(**data)


class SqliteDataStates(DataStates):
    def __init__(self, path: str) -> None:
        self.path = path
        with self._connect() as conn:
            conn.execute(
                f"create table if not exists {TABLE} (spec text primary key, state text not null, reported_at real)"
            )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open the data-state table in {self.path!r}: {exc}") from exc
        with closing(conn):
            try:
                yield conn
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"data-state table in {self.path!r}: {exc}") from exc

    def _put(self, spec: str, payload: str, reported_at: float) -> None:
        with self._connect() as conn:
            conn.execute(
                f"insert into {TABLE} (spec, state, reported_at) values (?, ?, ?) on conflict (spec) do update "
                "set state = excluded.state, reported_at = excluded.reported_at",
                (spec, payload, reported_at),
            )

    def _get(self, spec: str) -> str | None:
        with self._connect() as conn:
            row = conn.execute(f"select state from {TABLE} where spec = ?", (spec,)).fetchone()
        return str(row[0]) if row else None

    def _all(self) -> list[str]:
        with self._connect() as conn:
            return [str(r[0]) for r in conn.execute(f"select state from {TABLE} order by spec")]


class PostgresDataStates(DataStates):
    def __init__(self, url: str) -> None:
        self.url = url
        with self._connect() as conn:
            conn.execute(
                f"create table if not exists {TABLE} (spec text primary key, state text not null,"
                " reported_at double precision)"
            )

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        import psycopg

        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5, application_name="strangler-data")
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot reach the PostgreSQL database for data states: {exc}") from exc
        with conn:
            try:
                yield conn
            except psycopg.Error as exc:
                raise StoreUnavailable(f"data-state table: {exc}") from exc

    def _put(self, spec: str, payload: str, reported_at: float) -> None:
        with self._connect() as conn:
            conn.execute(
                f"insert into {TABLE} (spec, state, reported_at) values (%s, %s, %s) on conflict (spec) do update "
                "set state = excluded.state, reported_at = excluded.reported_at",
                (spec, payload, reported_at),
            )

    def _get(self, spec: str) -> str | None:
        with self._connect() as conn:
            row = conn.execute(f"select state from {TABLE} where spec = %s", (spec,)).fetchone()
        return str(row[0]) if row else None

    def _all(self) -> list[str]:
        with self._connect() as conn:
            return [str(r[0]) for r in conn.execute(f"select state from {TABLE} order by spec")]


def open_data_states(url: str) -> DataStates:
    """The data-state table in the route store's database: same URL forms as `control.store.open_store`."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDataStates(url)
    return SqliteDataStates(url.removeprefix("sqlite:///"))


@dataclass(frozen=True, slots=True)
class GateLimits:
    """STRANGLER_DATA_MAX_LAG and STRANGLER_DATA_MAX_AGE, in seconds (`control/settings.py` reads them)."""

    max_lag: float = DEFAULT_MAX_LAG
    max_age: float = DEFAULT_MAX_AGE


class DataGate:
    def __init__(self, states: DataStates, limits: GateLimits | None = None) -> None:
        self.states = states
        self.limits = limits or GateLimits()

    def check(self, current: RouteTable | None, new: RouteTable) -> None:
        """Raise DataNotReady naming every route that may not enter its new stage yet (and what to run)."""
        before = {(r.path, r.methods): r for r in current.routes} if current is not None else {}
        problems: list[Problem] = []
        for route in new.routes:
            if route.data is None or route.stage not in (Stage.CANARY, Stage.LIVE):
                continue
            old = before.get((route.path, route.methods))
            if old is not None and old.stage == route.stage and old.data == route.data:
                continue
            reason = self.refusal(route, self.states.get(route.data))
            if reason:
                problems.append(Problem(route.path, reason))
        if problems:
            raise DataNotReady(problems)

    def refusal(self, route: Route, state: DataState | None) -> str | None:
        spec = route.data
        stage = route.stage.value
        cutover = f"`strangler data cutover` on the {spec} spec (it holds writes, verifies, flips, then sets live)"
        ready = (
            f"`strangler data sync` until caught up, then `strangler data verify` and `strangler data publish` "
            f"on the {spec} spec"
        )
        todo = cutover if route.stage is Stage.LIVE else ready
        if state is None:
            return f"{stage} needs the data of spec {spec!r} synced and verified; the proxy has no report: run {todo}"
        age = time.time() - state.reported_at
        if age > self.limits.max_age:
            return (
                f"{stage} needs a fresh data report for spec {spec!r}; the last is {age:.0f}s old "
                f"(limit {self.limits.max_age:g}s): run {todo}"
            )
        if route.stage is Stage.LIVE and state.owner != "service":
            return f"live needs the service to own the data of spec {spec!r} (it is the {state.owner}'s): run {cutover}"
        if route.stage is Stage.CANARY and state.owner != "monolith":
            return (
                f"canary sends writes to the monolith, but the service owns the data of spec {spec!r}: "
                f"run `strangler data rollback` on the {spec} spec (it flips ownership back and sets the stage)"
            )
        if state.verify_clean is not True:
            verdict = "never verified" if state.verify_clean is None else "its last verify found differences"
            return f"{stage} needs a clean verify of spec {spec!r} ({verdict}): run {todo}"
        lagging = state.lag_seconds is None or state.lag_seconds > self.limits.max_lag
        if route.stage is Stage.CANARY and lagging:
            lag = "unknown" if state.lag_seconds is None else f"{state.lag_seconds:.3f}s"
            return (
                f"canary needs the sync of spec {spec!r} within {self.limits.max_lag:g}s of the monolith "
                f"(lag {lag}): run {ready}"
            )
        return None
