# ruff: noqa: S608 - every statement names the constant TABLE; values always go in as parameters
"""Sampled mismatches, kept replayable: the request, both answers and the field diff, in the route store's database.

One table of its own (`strangler_compare_mismatches`) beside the route store's, in the same SQLite file or
PostgreSQL database (`open_mismatch_store(url)` takes the route store's URL). Bounded in rows and in age: every
`PRUNE_EVERY` inserts the oldest rows beyond `max_rows` and those older than `max_age` seconds are deleted. Each
record is redacted before it is written (`redact.py`), and bodies are cut to `max_body` bytes.

Methods block; the comparator calls them from its writer thread, the CLI directly.
"""

from __future__ import annotations

import json
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from strangler_proxy.errors import StoreUnavailable, UnknownMismatch

TABLE = "strangler_compare_mismatches"
PRUNE_EVERY = 100


@dataclass(frozen=True, slots=True)
class Limits:
    max_rows: int = 10_000
    max_age: float = 7 * 86400.0
    max_body: int = 64 * 1024


@dataclass(frozen=True, slots=True)
class Summary:
    id: int
    created_at: str
    route: str
    method: str
    target: str
    status: str  # "200 -> 200"
    fields: list[str]  # net differing fields
    request_id: str  # the request's X-Request-Id: the same id as its access-log line and its answer

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "request_id": self.request_id,
            "created_at": self.created_at,
            "route": self.route,
            "method": self.method,
            "target": self.target,
            "status": self.status,
            "fields": self.fields,
        }


class MismatchStore(ABC):
    """`record` is a plain JSON object: {route, request: {method, target, headers, body}, expected, actual, diffs,
    net_fields, upstreams: {expected, actual}}; see comparator.mismatch_record."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._inserts = 0

    def add(self, record: dict[str, Any], *, now: float | None = None) -> int:
        now = time.time() if now is None else now
        created_at = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")
        request = record["request"]
        status = f"{record['expected']['status']} -> {record['actual']['status']}"
        summary = json.dumps(record.get("net_fields", []))
        new_id = self._insert(
            created_at, now, record["route"], request["method"], request["target"], status, summary, json.dumps(record)
        )
        self._inserts += 1
        if self._inserts % PRUNE_EVERY == 1 or self.limits.max_rows < PRUNE_EVERY:
            self.prune(now=now)
        return new_id

    def get(self, mismatch_id: int) -> dict[str, Any]:
        row = self._get(mismatch_id)
        if row is None:
            raise UnknownMismatch(mismatch_id)
        created_at, text = row
        record: dict[str, Any] = json.loads(text)
        return {"id": mismatch_id, "created_at": created_at, **record}

    def recent(self, *, limit: int = 50, route: str | None = None) -> list[Summary]:
        return [
            Summary(
                int(r[0]),
                str(r[1]),
                str(r[2]),
                str(r[3]),
                str(r[4]),
                str(r[5]),
                json.loads(str(r[6])),
                str(json.loads(str(r[7])).get("request_id", "")),
            )
            for r in self._list(limit, route)
        ]

    def prune(self, *, now: float | None = None) -> int:
        now = time.time() if now is None else now
        return self._prune(now - self.limits.max_age, self.limits.max_rows)

    def close(self) -> None:  # noqa: B027 - engines without long-lived resources need nothing here
        pass

    @abstractmethod
    def _insert(
        self, created_at: str, ts: float, route: str, method: str, target: str, status: str, fields: str, record: str
    ) -> int: ...

    @abstractmethod
    def _get(self, mismatch_id: int) -> tuple[str, str] | None: ...

    @abstractmethod
    def _list(self, limit: int, route: str | None) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def _prune(self, older_than: float, keep: int) -> int: ...

    @abstractmethod
    def count(self) -> int: ...


COLUMNS = "id, created_at, route, method, target, status, fields, record"


class SqliteMismatchStore(MismatchStore):
    def __init__(self, path: str, limits: Limits) -> None:
        super().__init__(limits)
        self.path = path
        with self._connect() as conn:
            conn.execute(
                f"create table if not exists {TABLE} (id integer primary key autoincrement, created_at text not null,"
                " ts real not null, route text not null, method text not null, target text not null,"
                " status text not null, fields text not null, record text not null)"
            )
            conn.execute(f"create index if not exists {TABLE}_ts on {TABLE} (ts)")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=5, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open the SQLite database {self.path!r}: {exc}") from exc
        with closing(conn):
            try:
                yield conn
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"mismatch store in {self.path!r}: {exc}") from exc

    def _insert(
        self, created_at: str, ts: float, route: str, method: str, target: str, status: str, fields: str, record: str
    ) -> int:
        with self._connect() as conn:
            cursor = conn.execute(
                f"insert into {TABLE} (created_at, ts, route, method, target, status, fields, record)"
                " values (?, ?, ?, ?, ?, ?, ?, ?)",
                (created_at, ts, route, method, target, status, fields, record),
            )
            return int(cursor.lastrowid or 0)

    def _get(self, mismatch_id: int) -> tuple[str, str] | None:
        with self._connect() as conn:
            row = conn.execute(f"select created_at, record from {TABLE} where id = ?", (mismatch_id,)).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def _list(self, limit: int, route: str | None) -> list[tuple[Any, ...]]:
        where, args = ("where route = ?", (route, limit)) if route else ("", (limit,))
        with self._connect() as conn:
            return list(conn.execute(f"select {COLUMNS} from {TABLE} {where} order by id desc limit ?", args))

    def _prune(self, older_than: float, keep: int) -> int:
        with self._connect() as conn:
            aged = conn.execute(f"delete from {TABLE} where ts < ?", (older_than,)).rowcount
            over = conn.execute(f"delete from {TABLE} where id <= (select max(id) from {TABLE}) - ?", (keep,)).rowcount
        return int(aged) + int(over)

    def count(self) -> int:
        with self._connect() as conn:
            return int(conn.execute(f"select count(*) from {TABLE}").fetchone()[0])


class PostgresMismatchStore(MismatchStore):
    def __init__(self, url: str, limits: Limits) -> None:
        super().__init__(limits)
        self.url = url
        with self._connect() as conn:
            conn.execute(
                f"create table if not exists {TABLE} (id bigint generated always as identity primary key,"
                " created_at text not null, ts double precision not null, route text not null, method text not null,"
                " target text not null, status text not null, fields text not null, record text not null)"
            )
            conn.execute(f"create index if not exists {TABLE}_ts on {TABLE} (ts)")

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        import psycopg

        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5, application_name="strangler-compare")
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot reach the PostgreSQL database for mismatches: {exc}") from exc
        with conn:
            try:
                yield conn
            except psycopg.Error as exc:
                raise StoreUnavailable(f"mismatch store: {exc}") from exc

    def _insert(
        self, created_at: str, ts: float, route: str, method: str, target: str, status: str, fields: str, record: str
    ) -> int:
        with self._connect() as conn:
            row = conn.execute(
                f"insert into {TABLE} (created_at, ts, route, method, target, status, fields, record)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s) returning id",
                (created_at, ts, route, method, target, status, fields, record),
            ).fetchone()
            return int(row[0])

    def _get(self, mismatch_id: int) -> tuple[str, str] | None:
        with self._connect() as conn:
            row = conn.execute(f"select created_at, record from {TABLE} where id = %s", (mismatch_id,)).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def _list(self, limit: int, route: str | None) -> list[tuple[Any, ...]]:
        where, args = ("where route = %s", (route, limit)) if route else ("", (limit,))
        with self._connect() as conn:
            return list(conn.execute(f"select {COLUMNS} from {TABLE} {where} order by id desc limit %s", args))

    def _prune(self, older_than: float, keep: int) -> int:
        with self._connect() as conn:
            aged = conn.execute(f"delete from {TABLE} where ts < %s", (older_than,)).rowcount
            over = conn.execute(f"delete from {TABLE} where id <= (select max(id) from {TABLE}) - %s", (keep,)).rowcount
        return int(aged or 0) + int(over or 0)

    def count(self) -> int:
        with self._connect() as conn:
            return int(conn.execute(f"select count(*) from {TABLE}").fetchone()[0])


def open_mismatch_store(url: str, limits: Limits | None = None) -> MismatchStore:
    """The mismatch table in the route store's database: same URL forms as the route store's `open_store`."""
    limits = limits or Limits()
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresMismatchStore(url, limits)
    return SqliteMismatchStore(url.removeprefix("sqlite:///"), limits)
