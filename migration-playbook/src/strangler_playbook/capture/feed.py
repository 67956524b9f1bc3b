"""Where the sync stands in the changelog, and which entries come next — without skipping late commits.

PostgreSQL allocates changelog ids when a row is written, not when its transaction commits: id 10 can become
visible after id 11. Reading "id > last applied" would skip 10 forever. So on PostgreSQL a position is a
transaction snapshot (as PgQ does): the next batch is every entry whose transaction is invisible in the last
applied snapshot (`base`) and visible in a newer one (`upto`), in id order. Entries of transactions still running
at `upto` are invisible to it and fall into a later batch. Long windows are consumed in id pages (`after`).

SQLite has one writer at a time, so ids are allocated in commit order and a position is just the last id.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from strangler_playbook.capture.triggers import CaptureNames
from strangler_playbook.database.connection import Database, quote


@dataclass(frozen=True)
class Change:
    id: int
    table: str
    op: str  # I, U, D, or T (the whole table was truncated; key is empty)
    key: tuple[Any, ...]
    created_at: float  # epoch seconds on the source's clock


class ChangeFeed:
    """Reads one spec's changelog on the source from a position."""

    def __init__(self, source: Database, spec_name: str) -> None:
        self.source = source
        self.log = quote(CaptureNames(spec_name).changelog)

    def start_position(self) -> dict[str, Any]:
        if self.source.engine == "postgresql":
            return {"base": self.source.scalar("SELECT pg_current_snapshot()::text"), "upto": None, "after": 0}
        return {"id": int(self.source.scalar(f"SELECT coalesce(max(id), 0) FROM {self.log}"))}

    def next_batch(self, position: dict[str, Any], limit: int) -> tuple[list[Change], dict[str, Any]]:
        """The next changes after `position` (at most `limit`) and the position after them."""
        if self.source.engine == "postgresql":
            return self._next_pg(position, limit)
        rows = self.source.fetchall(
            f"SELECT id, tbl, op, pk, created_at FROM {self.log} WHERE id > ? ORDER BY id LIMIT ?",
            (position["id"], limit),
        )
        changes = [_change(r[0], r[1], r[2], r[3], created_at=_sqlite_epoch(r[4])) for r in rows]
        return changes, {"id": changes[-1].id if changes else position["id"]}

    def _next_pg(self, position: dict[str, Any], limit: int) -> tuple[list[Change], dict[str, Any]]:
        base = position["base"]
        upto = position.get("upto") or self.source.scalar("SELECT pg_current_snapshot()::text")
        after = position.get("after", 0) if position.get("upto") else 0
        rows = self.source.fetchall(
            f"SELECT id, tbl, op, pk, extract(epoch FROM created_at)::float8 FROM {self.log} "
            "WHERE txid >= pg_snapshot_xmin(%s::pg_snapshot) AND NOT pg_visible_in_snapshot(txid, %s::pg_snapshot) "
            "AND pg_visible_in_snapshot(txid, %s::pg_snapshot) AND id > %s ORDER BY id LIMIT %s",
            (base, base, upto, after, limit),
        )
        changes = [_change(r[0], r[1], r[2], r[3], float(r[4])) for r in rows]
        if len(changes) < limit:
            return changes, {"base": upto, "upto": None, "after": 0}
        return changes, {"base": base, "upto": upto, "after": changes[-1].id}

    def keys_since(self, position: dict[str, Any], page: int = 10_000) -> dict[str, set[tuple[Any, ...]]] | None:
        """The keys of every change committed after `position`, by table (as logged); None when a change was a
        TRUNCATE (every key of its table)."""
        keys: dict[str, set[tuple[Any, ...]]] = {}
        while True:
            changes, position = self.next_batch(position, page)
            for change in changes:
                if change.op == "T":
                    return None
                keys.setdefault(change.table, set()).add(change.key)
            if len(changes) < page:
                return keys

    def pending(self, position: dict[str, Any]) -> tuple[int, float | None]:
        """Committed changes not yet applied, and the age in seconds of the oldest of them."""
        if self.source.engine == "postgresql":
            upto = position.get("upto")
            skip = "AND NOT (pg_visible_in_snapshot(txid, %s::pg_snapshot) AND id <= %s)" if upto else ""
            params: tuple[Any, ...] = (position["base"], position["base"]) + ((upto, position["after"]) if upto else ())
            row = self.source.fetchone(
                f"SELECT count(*), extract(epoch FROM clock_timestamp() - min(created_at))::float8 FROM {self.log} "
                "WHERE txid >= pg_snapshot_xmin(%s::pg_snapshot) AND NOT pg_visible_in_snapshot(txid, %s::pg_snapshot) "
                + skip,
                params,
            )
            assert row is not None
            return int(row[0]), (float(row[1]) if row[1] is not None else None)
        row = self.source.fetchone(f"SELECT count(*), min(created_at) FROM {self.log} WHERE id > ?", (position["id"],))
        assert row is not None
        age = time.time() - _sqlite_epoch(row[1]) if row[1] is not None else None
        return int(row[0]), age

    def head(self) -> dict[str, Any]:
        """Where the changelog ends now, for `passed`: every change committed by this moment is before it."""
        if self.source.engine == "postgresql":
            return {"snapshot": self.source.scalar("SELECT pg_current_snapshot()::text")}
        return {"id": int(self.source.scalar(f"SELECT coalesce(max(id), 0) FROM {self.log}"))}

    def position_at(self, head: dict[str, Any]) -> dict[str, Any]:
        """A position (for `next_batch`, `keys_since`) just after every change committed by the time of `head`."""
        if self.source.engine == "postgresql":
            return {"base": head["snapshot"], "upto": None, "after": 0}
        return {"id": head["id"]}

    def passed(self, position: dict[str, Any], head: dict[str, Any]) -> bool:
        """Whether the sync at `position` has applied every change committed by the time `head` was taken."""
        if self.source.engine == "postgresql":
            waiting = self.source.scalar(
                f"SELECT count(*) FROM {self.log} WHERE txid >= pg_snapshot_xmin(%s::pg_snapshot) "
                "AND NOT pg_visible_in_snapshot(txid, %s::pg_snapshot) "
                "AND pg_visible_in_snapshot(txid, %s::pg_snapshot)",
                (position["base"], position["base"], head["snapshot"]),
            )
            return int(waiting) == 0
        return int(position["id"]) >= int(head["id"])

    def prune(self, position: dict[str, Any]) -> int:
        """Delete entries every reader has applied (all visible in the applied snapshot / at or below the id)."""
        if self.source.engine == "postgresql":
            cur = self.source.execute(
                f"DELETE FROM {self.log} WHERE txid < pg_snapshot_xmin(%s::pg_snapshot)", (position["base"],)
            )
        else:
            cur = self.source.execute(f"DELETE FROM {self.log} WHERE id <= ?", (position["id"],))
        return int(cur.rowcount or 0)


def _change(change_id: int, table: str, op: str, pk: str, created_at: float) -> Change:
    return Change(int(change_id), str(table), str(op).strip(), tuple(json.loads(pk)), created_at)


def _sqlite_epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()
