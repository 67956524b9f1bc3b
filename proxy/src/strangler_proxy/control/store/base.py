"""The route store: every version of the route table, append-only, with who, when, why and what changed.

A change is a full snapshot stored as a new version. Writers state the version they read; the engine
refuses a stale one inside the same transaction that appends, so of two concurrent writers exactly one
wins. A rollback is a new version whose content equals an earlier one: history is never rewritten.

Engine-independent: the engines (`sqlite.py`, `postgres.py`) implement four primitives; `open_store` (the
package) picks one. Methods are blocking; the admin API and the watcher call them from worker threads.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

from strangler_proxy.control.table_codec import same_content, table_from_dict, table_to_dict, with_version
from strangler_proxy.control.table_diff import diff_tables, summarise
from strangler_proxy.dataplane.model import RouteTable
from strangler_proxy.errors import StaleVersion, StoreEmpty, StoreUnavailable, UnknownVersion

TABLE_NAME = "strangler_route_versions"


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: int
    created_at: str  # ISO 8601, UTC
    author: str
    reason: str
    summary: str
    rollback_of: int | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    info: VersionInfo
    table: RouteTable


@dataclass(frozen=True, slots=True)
class CommitResult:
    changed: bool  # False: the content equalled the current version, nothing was written
    version: int
    diff: list[str]
    table: RouteTable


@dataclass(frozen=True, slots=True)
class StoredRow:
    info: VersionInfo
    snapshot: str


class RouteStore(ABC):
    """Engine-independent behaviour on top of four primitives each engine implements."""

    url_for_humans: str = ""
    # Called with (current, new) before every commit that changes something; raises to refuse (data_state.DataGate).
    gate: Callable[[RouteTable | None, RouteTable], None] | None = None

    @abstractmethod
    def latest_version(self) -> int:
        """The newest version, 0 when the store is empty. Cheap: the watcher polls it."""

    @abstractmethod
    def _row(self, version: int) -> StoredRow | None: ...

    @abstractmethod
    def _append(
        self, *, expected: int, snapshot: str, author: str, reason: str, summary: str, rollback_of: int | None
    ) -> VersionInfo:
        """Atomically: refuse with StaleVersion unless the newest version is `expected`, then append expected+1."""

    @abstractmethod
    def history(self, *, limit: int = 50) -> list[VersionInfo]:
        """Newest first."""

    @abstractmethod
    def wait_for_change(self, since: int, timeout: float) -> int:
        """Block until the newest version differs from `since` or `timeout` passes; return the newest version.

        Call from one thread only (the watcher): an engine may keep a dedicated connection for it.
        """

    def close(self) -> None:  # noqa: B027 - engines without long-lived resources need nothing here
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def load(self, version: int | None = None) -> Snapshot:
        wanted = self.latest_version() if version is None else version
        if wanted == 0 and version is None:
            raise StoreEmpty(
                f"the route store {self.url_for_humans} has no route table yet; start `strangler proxy` with "
                f"STRANGLER_MONOLITH_URL set to seed it, or `strangler routes apply` a routes file"
            )
        row = self._row(wanted)
        if row is None:
            raise UnknownVersion(wanted)
        try:
            table = table_from_dict(json.loads(row.snapshot), version=row.info.version)
        except (ValueError, TypeError) as exc:
            raise StoreUnavailable(f"version {wanted} in {self.url_for_humans} is unreadable: {exc}") from exc
        return Snapshot(info=row.info, table=table)

    def commit(
        self,
        table: RouteTable,
        *,
        expected_version: int,
        author: str,
        reason: str,
        rollback_of: int | None = None,
        dry_run: bool = False,
    ) -> CommitResult:
        """Store `table` as the next version unless it equals the current one (then change nothing). A dry run makes
        every check (version, data gate) and answers with the diff, storing nothing."""
        latest = self.latest_version()
        if latest != expected_version:
            raise StaleVersion(expected_version, latest)
        current = self.load().table if latest else None
        diff = diff_tables(current, table)
        if current is not None and same_content(current, table):
            return CommitResult(changed=False, version=latest, diff=[], table=current)
        if self.gate is not None:
            self.gate(current, table)
        if dry_run:
            return CommitResult(changed=True, version=latest, diff=diff, table=table)
        snapshot = json.dumps(table_to_dict(table), sort_keys=True, separators=(",", ":"))
        info = self._append(
            expected=expected_version,
            snapshot=snapshot,
            author=author,
            reason=reason,
            summary=summarise(diff),
            rollback_of=rollback_of,
        )
        return CommitResult(changed=True, version=info.version, diff=diff, table=with_version(table, info.version))

    def rollback(
        self, *, to_version: int | None, expected_version: int, author: str, reason: str, dry_run: bool = False
    ) -> CommitResult:
        """Append a version whose content equals `to_version` (default: the one before the newest)."""
        target = expected_version - 1 if to_version is None else to_version
        if target < 1:
            raise UnknownVersion(target)
        earlier = self.load(target)
        return self.commit(
            earlier.table,
            expected_version=expected_version,
            author=author,
            reason=reason,
            rollback_of=target,
            dry_run=dry_run,
        )
