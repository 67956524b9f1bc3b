"""The SQLite route store: one file, WAL mode so readers never wait for a writer.

`BEGIN IMMEDIATE` takes the write lock before reading the newest version, so the stale-version check and
the append are one atomic step across processes. Proxies notice a change by polling max(version) on an
integer primary key, a single b-tree seek.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime

from strangler_proxy.control.store.base import TABLE_NAME, RouteStore, StoredRow, VersionInfo
from strangler_proxy.errors import StaleVersion, StoreUnavailable

POLL_INTERVAL = 0.1
BUSY_TIMEOUT_MS = 5000

SCHEMA = f"""
create table if not exists {TABLE_NAME} (
    version integer primary key,
    created_at text not null,
    author text not null,
    reason text not null,
    summary text not null,
    snapshot text not null,
    rollback_of integer
)
"""
COLUMNS = "version, created_at, author, reason, summary, rollback_of"


class SqliteStore(RouteStore):
    def __init__(self, path: str) -> None:
        self.path = path
        self.url_for_humans = f"sqlite:{path}"
        with self._connect() as conn:
            conn.execute("pragma journal_mode=wal")
            conn.execute(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open the SQLite route store {self.path!r}: {exc}") from exc
        with closing(conn):
            try:
                yield conn
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"SQLite route store {self.path!r}: {exc}") from exc

    def latest_version(self) -> int:
        with self._connect() as conn:
            return _max_version(conn)

    def _row(self, version: int) -> StoredRow | None:
        with self._connect() as conn:
            row = conn.execute(f"select {COLUMNS}, snapshot from {TABLE_NAME} where version = ?", (version,)).fetchone()  # noqa: S608
        if row is None:
            return None
        return StoredRow(info=_info(row), snapshot=row[6])

    def history(self, *, limit: int = 50) -> list[VersionInfo]:
        with self._connect() as conn:
            rows = conn.execute(
                f"select {COLUMNS} from {TABLE_NAME} order by version desc limit ?",  # noqa: S608
                (limit,),
            ).fetchall()
        return [_info(r) for r in rows]

    def _append(
        self, *, expected: int, snapshot: str, author: str, reason: str, summary: str, rollback_of: int | None
    ) -> VersionInfo:
        info = VersionInfo(
            version=expected + 1,
            created_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
            author=author,
            reason=reason,
            summary=summary,
            rollback_of=rollback_of,
        )
        with self._connect() as conn:
            conn.execute("begin immediate")
            try:
                latest = _max_version(conn)
                if latest != expected:
                    raise StaleVersion(expected, latest)
                conn.execute(
                    f"insert into {TABLE_NAME} ({COLUMNS}, snapshot) values (?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                    (info.version, info.created_at, author, reason, summary, rollback_of, snapshot),
                )
                conn.execute("commit")
            except BaseException:
                conn.execute("rollback")
                raise
        return info

    def wait_for_change(self, since: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        with self._connect() as conn:
            while True:
                latest = _max_version(conn)
                if latest != since or time.monotonic() >= deadline:
                    return latest
                time.sleep(POLL_INTERVAL)


def _max_version(conn: sqlite3.Connection) -> int:
    row = conn.execute(f"select coalesce(max(version), 0) from {TABLE_NAME}").fetchone()  # noqa: S608
    return int(row[0])


def _info(row: tuple[object, ...]) -> VersionInfo:
    version, created_at, author, reason, summary, rollback_of = row[:6]
    return VersionInfo(
        version=int(str(version)),
        created_at=str(created_at),
        author=str(author),
        reason=str(reason),
        summary=str(summary),
        rollback_of=None if rollback_of is None else int(str(rollback_of)),
    )
