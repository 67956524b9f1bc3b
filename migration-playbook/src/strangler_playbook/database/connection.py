"""One connection to a source or target database, either engine, with the introspection the engine needs.

Both engines run in autocommit; every unit of work opens its own explicit transaction (`transaction()`),
so a chunk and its checkpoint commit together or not at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import psycopg

from strangler_playbook.errors import ConnectError, EngineError, SchemaError
from strangler_playbook.spec.column_types import row_text

Engine = Literal["sqlite", "postgresql"]
SQLITE_BUSY_TIMEOUT_S = 30.0


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL or bare path; None for a PostgreSQL URL."""
    if url.startswith(("postgresql://", "postgres://")):
        return None
    if url.startswith("sqlite:///"):
        # sqlite:////abs/path.db is absolute, sqlite:///rel/path.db relative (the SQLAlchemy/django-environ form).
        return Path(url[len("sqlite:///") :])
    if "://" in url:
        raise ConnectError(
            f"unsupported database URL {redact(url)!r}",
            hint="use postgresql://user@host:port/db, sqlite:////absolute/path.db or a plain file path",
        )
    return Path(url)


@dataclass
class Database:
    engine: Engine
    url: str
    raw: Any  # psycopg.Connection[Any] or sqlite3.Connection
    bypasses_constraints: bool = False
    defers_constraints: bool = False  # PostgreSQL without the right to bypass: defer FKs in each transaction
    has_state_table: bool = False  # `_strangler_state` seen on this connection (state.py)
    sequences: dict[tuple[str, str], str | None] = field(default_factory=dict)  # (table, key) → its sequence
    _unique_sets: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)

    @property
    def ph(self) -> str:
        return "%s" if self.engine == "postgresql" else "?"

    @property
    def display(self) -> str:
        return redact(self.url)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            return self.raw.execute(sql, params)
        except (psycopg.Error, sqlite3.Error) as exc:
            raise translate(self, exc, sql) from exc

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.execute(sql, params).fetchall())

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row = self.execute(sql, params).fetchone()
        return tuple(row) if row is not None else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.fetchone(sql, params)
        return row[0] if row else None

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[None]:
        if self.engine == "postgresql":
            try:
                with self.raw.transaction():
                    if self.defers_constraints:
                        self.raw.execute("SET CONSTRAINTS ALL DEFERRED")
                    yield
            except psycopg.Error as exc:
                raise translate(self, exc) from exc
            return
        # IMMEDIATE takes the write lock up front so a busy writer makes us wait, not fail mid-chunk.
        self.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield
        except BaseException:
            if self.raw.in_transaction:
                self.raw.execute("ROLLBACK")
            raise
        else:
            self.execute("COMMIT")

    # --- introspection -------------------------------------------------------------------------------------

    def table_exists(self, table: str) -> bool:
        if self.engine == "postgresql":
            return bool(self.scalar("SELECT to_regclass(%s) IS NOT NULL", (quote(table),)))
        return bool(self.scalar("SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?", (table,)))

    def columns(self, table: str) -> dict[str, str]:
        """Column name → declared type, in table order."""
        if not self.table_exists(table):
            raise SchemaError(f"table {table} does not exist in {self.engine} database {self.display}")
        if self.engine == "postgresql":
            rows = self.fetchall(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                (quote(table),),
            )
        else:
            rows = [(r[1], r[2]) for r in self.fetchall(f"PRAGMA table_info({quote(table)})")]
        return {str(name): str(declared) for name, declared in rows}

    def foreign_keys(self, table: str) -> dict[str, str]:
        """Column → referenced table, for single-column foreign keys."""
        if self.engine == "postgresql":
            rows = self.fetchall(
                "SELECT a.attname, c.confrelid::regclass::text FROM pg_constraint c "
                "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
                "WHERE c.contype = 'f' AND c.conrelid = to_regclass(%s)",
                (quote(table),),
            )
        else:
            rows = [(r[3], r[2]) for r in self.fetchall(f"PRAGMA foreign_key_list({quote(table)})")]
        return {str(col): str(ref).strip('"') for col, ref in rows}

    def unique_column_sets(self, table: str) -> list[tuple[str, ...]]:
        """Column tuples of the table's plain unique indexes other than the primary key (cached)."""
        if table not in self._unique_sets:
            self._unique_sets[table] = self._unique_column_sets(table)
        return self._unique_sets[table]

    def _unique_column_sets(self, table: str) -> list[tuple[str, ...]]:
        if self.engine == "postgresql":
            rows = self.fetchall(
                "SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_index i "
                "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
                "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                "WHERE i.indrelid = to_regclass(%s) AND i.indisunique AND NOT i.indisprimary "
                "AND i.indexprs IS NULL AND i.indpred IS NULL GROUP BY i.indexrelid",
                (quote(table),),
            )
            return [tuple(r[0]) for r in rows]
        sets = []
        for index in self.fetchall(f"PRAGMA index_list({quote(table)})"):
            if index[2] and index[3] != "pk" and not index[4]:
                sets.append(tuple(str(c[2]) for c in self.fetchall(f"PRAGMA index_info({quote(index[1])})")))
        return sets

    def row_estimate(self, table: str, where: str | None = None) -> int:
        if self.engine == "postgresql" and where is None:
            estimate = self.scalar(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", (quote(table),)
            )
            if estimate is not None and estimate >= 0:
                return int(estimate)
        sql = f"SELECT count(*) FROM {quote(table)}" + (f" WHERE {where}" if where else "")
        return int(self.scalar(sql))

    def is_empty(self, table: str) -> bool:
        return self.fetchone(f"SELECT 1 FROM {quote(table)} LIMIT 1") is None

    def close(self) -> None:
        with suppress(psycopg.Error, sqlite3.Error):
            self.raw.close()


def connect(url: str, *, role: str, for_writes: bool = False) -> Database:
    """Open `url`; `for_writes` sessions bypass target constraints and triggers where the engine allows.

    Bypassing lets chunks and changes land in any order (a product before its new category) and keeps the
    target's own capture triggers from echoing the sync's writes; verify proves the end state.
    """
    if not url:
        raise ConnectError(f"no {role} database URL given", hint=f"pass --{role} URL or set the spec's {role}_url_env")
    path = sqlite_path(url)
    if path is None:
        try:
            conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            raise ConnectError(
                f"cannot connect to {role} database {redact(url)}: {_first_line(exc)}",
                hint="check the URL, that PostgreSQL is running and that the database exists",
            ) from exc
        db = Database("postgresql", url, conn)
        conn.execute("SET TIME ZONE 'UTC'")
        if for_writes:
            try:
                conn.execute("SET session_replication_role = replica")
                db.bypasses_constraints = True
            except psycopg.Error:
                db.defers_constraints = True
        return db
    if not path.exists():
        raise ConnectError(
            f"{role} SQLite database {path} does not exist",
            hint="check the path; the engine never creates a database file",
        )
    try:
        raw = sqlite3.connect(
            f"file:{path}?mode=rw",
            uri=True,
            timeout=SQLITE_BUSY_TIMEOUT_S,
            isolation_level=None,
            check_same_thread=False,
        )
        raw.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise ConnectError(f"cannot open {role} SQLite database {path}: {exc}", hint="is it a SQLite file?") from exc
    raw.create_function("strangler_row_text", -1, sqlite_row_text, deterministic=True)
    raw.create_aggregate("strangler_md5_agg", 1, _Md5Aggregate)  # type: ignore[arg-type]
    raw.create_aggregate("strangler_md5_rows", -1, _RowsMd5Aggregate)  # type: ignore[arg-type]
    if for_writes:
        raw.execute("PRAGMA foreign_keys = OFF")
    return Database("sqlite", url, raw, bypasses_constraints=for_writes)


def sqlite_row_text(codes: str, *values: Any) -> str:
    """`strangler_row_text(codes, col, ...)` in SQLite: a row's checksum text, as verify hashes it."""
    return row_text(codes, values)


class _Md5Aggregate:
    """md5 over the rows' text joined by newlines, the same bytes PostgreSQL's string_agg + md5 hashes."""

    def __init__(self) -> None:
        import hashlib

        self.digest = hashlib.md5(usedforsecurity=False)
        self.first = True

    def step(self, text: str | None) -> None:
        if text is None:
            return
        if not self.first:
            self.digest.update(b"\n")
        self.digest.update(text.encode("utf-8"))
        self.first = False

    def finalize(self) -> str | None:
        return None if self.first else self.digest.hexdigest()


class _RowsMd5Aggregate(_Md5Aggregate):
    """The same digest, fed raw columns: one Python call per row instead of two (row text, then aggregate)."""

    def step(self, codes: str, *values: Any) -> None:  # type: ignore[override]
        super().step(row_text(codes, values))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def translate(db: Database, exc: BaseException, sql: str = "") -> EngineError | ConnectError:
    """A driver error → ConnectError when the connection is gone, else EngineError naming the statement."""
    if isinstance(exc, psycopg.OperationalError) or (db.engine == "postgresql" and db.raw.closed):
        return ConnectError(
            f"lost the connection to {db.engine} at {db.display}: {_first_line(exc)}",
            hint="check the database; the engine resumes from its durable position when re-run",
        )
    suffix = f"\n  SQL: {sql[:300]}" if sql else ""
    return EngineError(f"{db.engine} at {db.display} refused: {_first_line(exc)}{suffix}")
