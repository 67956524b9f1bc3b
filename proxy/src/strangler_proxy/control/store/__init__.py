"""The route store: every version of the route table, append-only, with who, when, why and what changed.
`open_store(url)` picks its engine (`sqlite.py`, `postgres.py`, imported when opened); `base.py` is the rest."""

from __future__ import annotations

from strangler_proxy.control.store.base import TABLE_NAME, CommitResult, RouteStore, Snapshot, StoredRow, VersionInfo

__all__ = ["TABLE_NAME", "CommitResult", "RouteStore", "Snapshot", "StoredRow", "VersionInfo", "open_store"]


def open_store(url: str) -> RouteStore:
    """Open (creating if needed) the store at a SQLite path, sqlite:///path, or postgresql:// URL."""
    if url.startswith(("postgresql://", "postgres://")):
        from strangler_proxy.control.store.postgres import PostgresStore

        return PostgresStore(url)
    from strangler_proxy.control.store.sqlite import SqliteStore

    # As django-environ reads it: sqlite:///relative.db and sqlite:////absolute/path.db.
    return SqliteStore(url.removeprefix("sqlite:///"))
