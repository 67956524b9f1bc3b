"""The route store: every version of the route table, append-only, with who, when, why and what changed.

    store = open_store("./strangler-routes.sqlite3")        # or sqlite:///path, or postgresql://...
    store.commit(table, expected_version=3, author="alice", reason="canary 10%")   # StaleVersion unless at 3

`base.py` holds the behaviour (versions, optimistic concurrency, rollback, the data gate hook); `sqlite.py` and
`postgres.py` the two engines, imported only when opened.
"""

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
