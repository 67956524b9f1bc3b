"""The PostgreSQL route store, shared by several proxy replicas.

The version is the primary key: two writers that both read version N both try to insert N+1, and the
second one blocks on the first's uncommitted key and then fails with a unique violation, which becomes
StaleVersion. The append sends NOTIFY in the same transaction, so listeners hear of a version only once
it is committed; a slow poll covers notifications lost while the listening connection was down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from strangler_proxy.control.store.base import TABLE_NAME, RouteStore, StoredRow, VersionInfo
from strangler_proxy.errors import StaleVersion, StoreUnavailable

CHANNEL = "strangler_routes"
CONNECT_TIMEOUT = 5
# Named so an operator can tell the proxies' connections apart in pg_stat_activity.
APPLICATION_NAME = "strangler-proxy"
LISTENER_APPLICATION_NAME = "strangler-proxy-watcher"

log = logging.getLogger(__name__)

SCHEMA = sql.SQL("""
create table if not exists {table} (
    version integer primary key,
    created_at timestamptz not null default now(),
    author text not null,
    reason text not null,
    summary text not null,
    snapshot text not null,
    rollback_of integer
)
""").format(table=sql.Identifier(TABLE_NAME))
SELECT_INFO = sql.SQL(
    "select version, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"+00:00\"'), author, reason, "
    "summary, rollback_of"
)
TABLE = sql.Identifier(TABLE_NAME)


class PostgresStore(RouteStore):
    def __init__(self, url: str) -> None:
        self.url = url
        self.url_for_humans = _redact(url)
        self._listener: psycopg.Connection[Any] | None = None
        # One connection per store, reused under a lock: connecting costs far more than the queries (an admin
        # change is five of them), and admin changes are rare enough to take turns.
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()
        with self._connect() as conn, conn.transaction():
            # Replicas starting together would race on `create table if not exists` (a catalog unique violation).
            conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (TABLE_NAME,))
            conn.execute(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[psycopg.Connection[Any]]:
        with self._lock:
            conn = self._usable_connection()
            try:
                yield conn
            except psycopg.errors.UniqueViolation:
                raise
            except psycopg.Error as exc:
                if conn.broken or conn.closed:
                    self._conn = None
                raise StoreUnavailable(f"PostgreSQL route store {self.url_for_humans}: {exc}") from exc

    def _usable_connection(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed:
            try:
                self._conn.execute("select 1")  # a server-side kill is only seen on use: find out now
                return self._conn
            except psycopg.Error:
                self._conn.close()
        self._conn = None
        try:
            self._conn = psycopg.connect(
                self.url, connect_timeout=CONNECT_TIMEOUT, autocommit=True, application_name=APPLICATION_NAME
            )
        except psycopg.Error as exc:
            raise StoreUnavailable(
                f"cannot connect to the PostgreSQL route store {self.url_for_humans}: {exc}"
            ) from exc
        return self._conn

    def latest_version(self) -> int:
        with self._connect() as conn:
            return _max_version(conn)

    def _row(self, version: int) -> StoredRow | None:
        query = sql.SQL("{info}, snapshot from {table} where version = %s").format(info=SELECT_INFO, table=TABLE)
        with self._connect() as conn:
            row = conn.execute(query, (version,)).fetchone()
        if row is None:
            return None
        return StoredRow(info=_info(row), snapshot=row[6])

    def history(self, *, limit: int = 50) -> list[VersionInfo]:
        query = sql.SQL("{info} from {table} order by version desc limit %s").format(info=SELECT_INFO, table=TABLE)
        with self._connect() as conn:
            return [_info(r) for r in conn.execute(query, (limit,)).fetchall()]

    def _append(
        self, *, expected: int, snapshot: str, author: str, reason: str, summary: str, rollback_of: int | None
    ) -> VersionInfo:
        insert = sql.SQL(
            "insert into {table} (version, author, reason, summary, snapshot, rollback_of) "
            "values (%s, %s, %s, %s, %s, %s) returning version"
        ).format(table=TABLE)
        with self._connect() as conn:
            try:
                with conn.transaction():
                    latest = _max_version(conn)
                    if latest != expected:
                        raise StaleVersion(expected, latest)
                    conn.execute(insert, (expected + 1, author, reason, summary, snapshot, rollback_of))
                    conn.execute("select pg_notify(%s, %s)", (CHANNEL, str(expected + 1)))
            except psycopg.errors.UniqueViolation as exc:
                raise StaleVersion(expected, expected + 1) from exc
            row = self._row_in(conn, expected + 1)
        return row

    def _row_in(self, conn: psycopg.Connection[Any], version: int) -> VersionInfo:
        query = sql.SQL("{info} from {table} where version = %s").format(info=SELECT_INFO, table=TABLE)
        row = conn.execute(query, (version,)).fetchone()
        assert row is not None
        return _info(row)

    def wait_for_change(self, since: int, timeout: float) -> int:
        try:
            listener = self._listen()
            latest = _max_version(listener)
            if latest == since:
                for _ in listener.notifies(timeout=timeout, stop_after=1):
                    pass
                latest = _max_version(listener)
            return latest
        except psycopg.Error as exc:
            self.close()
            raise StoreUnavailable(f"lost the PostgreSQL route store {self.url_for_humans}: {exc}") from exc

    def _listen(self) -> psycopg.Connection[Any]:
        # LISTEN before the first version check, so no commit can slip between the check and the wait.
        if self._listener is None or self._listener.closed:
            conn = psycopg.connect(
                self.url, connect_timeout=CONNECT_TIMEOUT, autocommit=True, application_name=LISTENER_APPLICATION_NAME
            )
            conn.execute(sql.SQL("listen {}").format(sql.Identifier(CHANNEL)))
            self._listener = conn
        return self._listener

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _max_version(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(sql.SQL("select coalesce(max(version), 0) from {table}").format(table=TABLE)).fetchone()
    assert row is not None
    return int(row[0])


def _info(row: tuple[Any, ...]) -> VersionInfo:
    return VersionInfo(
        version=int(row[0]),
        created_at=str(row[1]),
        author=str(row[2]),
        reason=str(row[3]),
        summary=str(row[4]),
        rollback_of=None if row[5] is None else int(row[5]),
    )


def _redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        params = conninfo_to_dict(url)
    except psycopg.Error:
        return "<unparseable PostgreSQL URL>"
    if "password" in params:
        params["password"] = "***"  # noqa: S105 - a mask, not a password
    return make_conninfo(**{k: str(v) for k, v in params.items()})
