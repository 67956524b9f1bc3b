# ruff: noqa: S608 - statements name only this module's constant tables; values always go in as parameters
"""Write holds as a state of the shared PostgreSQL store, so that several proxy replicas hold as one.

    strangler_replicas   (replica, host, pid, started_at, seen_at)        each replica's heartbeat (`round`)
    strangler_holds      (id, path, holder, timeout, lease, deadline, lease_until, committing_until, outcome, ...)
    strangler_hold_acks  (hold_id, replica, acked_at)                     "no write on the path passes me now"

A hold is requested through any replica's admin API (`create`), which then waits until every live replica (heartbeat
younger than `dead_after`) has acknowledged it (`missing_acks`): a replica acknowledges once it holds the path
locally and its writes in flight on it are answered. Every time is the database's clock (`now()`), so replicas'
clocks need not agree. A hold ends by its holder (`release`), or in a replica's `round`, which ends every hold
whose lease lapsed or whose deadline passed, except while an owner change commits under it (`committing_until`,
`begin_commit`), so a commit and a hold's end never interleave. Rows of ended holds are kept an hour.

Methods block: the replica's loop and the admin endpoints call them from worker threads, each on its own
connection (`rounds` for the loop, one shared under a lock for the admin calls).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from strangler_proxy.errors import StoreUnavailable

REPLICAS = "strangler_replicas"
HOLDS = "strangler_holds"
ACKS = "strangler_hold_acks"
CONNECT_TIMEOUT = 2
STATEMENT_TIMEOUT_MS = 2000
COMMIT_BOUND = 10.0  # seconds an owner change may keep a hold from ending (a replica dying mid-commit frees it then)
KEEP_ENDED = "1 hour"
HOUSEKEEP_EVERY = 60.0  # seconds between deletions of old rows
APPLICATION_NAME = "strangler-proxy-replica"
CHANNEL = "strangler_holds"  # NOTIFY on a hold's start and end: replicas take the news now, not at their next round

SCHEMA = [
    f"""create table if not exists {REPLICAS} (
        replica text primary key, host text not null, pid integer not null,
        started_at timestamptz not null default now(), seen_at timestamptz not null default now())""",
    f"""create table if not exists {HOLDS} (
        id text primary key, path text not null, reason text not null, holder text not null,
        timeout double precision not null, lease double precision, max_queue integer not null,
        started_at timestamptz not null default now(), deadline timestamptz not null,
        lease_until timestamptz, committing_until timestamptz, outcome text, ended_at timestamptz)""",
    f"""create table if not exists {ACKS} (
        hold_id text not null, replica text not null, acked_at timestamptz not null default now(),
        primary key (hold_id, replica))""",
]
# A hold ends when its lease lapsed or its deadline passed, unless an owner change is committing under it.
DUE = (
    "outcome is null and now() >= least(deadline, coalesce(lease_until, 'infinity')) "
    "and coalesce(committing_until, '-infinity') < now()"
)
LIVE = "outcome is null and now() < least(deadline, coalesce(lease_until, 'infinity'))"
HOLD_COLUMNS = (
    "id, path, reason, holder, timeout, lease, max_queue, extract(epoch from now() - started_at), "
    "extract(epoch from lease_until - now()), outcome"
)


@dataclass(frozen=True, slots=True)
class StoredHold:
    id: str
    path: str
    reason: str
    holder: str
    timeout: float
    lease: float | None
    max_queue: int
    age_s: float
    lease_left_s: float | None
    outcome: str | None

    def covers(self, path: str) -> bool:
        return self.path == "/" or path == self.path or path.startswith(self.path + "/")

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "reason": self.reason,
            "holder": self.holder,
            "timeout": self.timeout,
            "lease": self.lease,
            "lease_left_s": None if self.lease_left_s is None else round(max(0.0, self.lease_left_s), 3),
            "max_queue": self.max_queue,
            "age_s": round(self.age_s, 3),
            "outcome": self.outcome,
        }


@dataclass(frozen=True, slots=True)
class Round:
    """What a replica learned in one round: the holds in force (those it must hold locally)."""

    holds: list[StoredHold]


class SharedHoldStore:
    def __init__(self, url: str, *, dead_after: float, url_for_humans: str = "") -> None:
        self.url = url
        self.url_for_humans = url_for_humans or "the route store"
        self.dead_after = dead_after
        self._conns: dict[str, psycopg.Connection[Any]] = {}
        self._listening: psycopg.Connection[Any] | None = None
        self._locks = {"admin": threading.Lock(), "rounds": threading.Lock(), "listen": threading.Lock()}
        with self._connection("admin") as conn, conn.transaction():
            # Replicas starting together would race on `create table if not exists` (a catalog unique violation).
            conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (HOLDS,))
            for statement in SCHEMA:
                conn.execute(statement)

    @contextmanager
    def _connection(self, role: str) -> Iterator[psycopg.Connection[Any]]:
        with self._locks[role]:
            conn = self._conns.get(role)
            try:
                if conn is None or conn.closed or conn.broken:
                    conn = psycopg.connect(
                        self.url,
                        connect_timeout=CONNECT_TIMEOUT,
                        autocommit=True,
                        application_name=APPLICATION_NAME,
                        options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                    )
                    self._conns[role] = conn
                yield conn
            except psycopg.Error as exc:
                if conn is not None and (conn.broken or conn.closed):
                    self._conns.pop(role, None)
                raise StoreUnavailable(f"write holds in {self.url_for_humans}: {exc}") from exc

    def close(self) -> None:
        for role, lock in self._locks.items():
            with lock:
                conn = self._conns.pop(role, None)
                if conn is not None:
                    conn.close()

    # --- a replica's round ----------------------------------------------------------------------------------

    def round(self, replica: str, host: str, pid: int, acks: Sequence[str]) -> Round:
        """Heartbeat as `replica`, end the holds that are due, record `acks`, and return the holds in force."""
        with self._connection("rounds") as conn, conn.transaction():
            conn.execute(
                f"insert into {REPLICAS} (replica, host, pid) values (%s, %s, %s) "
                f"on conflict (replica) do update set seen_at = now(), host = excluded.host, pid = excluded.pid",
                (replica, host, pid),
            )
            conn.execute(
                f"update {HOLDS} set outcome = case when now() >= deadline then 'expired' else 'lapsed' end, "
                f"ended_at = now() where {DUE}"
            )
            if acks:
                conn.execute(
                    f"insert into {ACKS} (hold_id, replica) select unnest(%s::text[]), %s on conflict do nothing",
                    (list(acks), replica),
                )
            rows = conn.execute(f"select {HOLD_COLUMNS} from {HOLDS} where outcome is null order by id").fetchall()
        return Round([_hold(r) for r in rows])

    def wait_for_news(self, timeout: float) -> bool:
        """Block until a hold starts or ends (NOTIFY) or `timeout` passes; True if one did. From one thread only."""
        with self._connection("listen") as conn:
            if conn is not self._listening:  # a new connection (the first, or after one was lost) listens afresh
                conn.execute(f"listen {CHANNEL}")
                self._listening = conn
            return any(True for _ in conn.notifies(timeout=timeout, stop_after=1))

    def forget(self, replica: str) -> None:
        """A replica that stops cleanly is not waited for until its heartbeat would have lapsed."""
        with self._connection("admin") as conn:
            conn.execute(f"delete from {REPLICAS} where replica = %s", (replica,))

    def housekeep(self) -> None:
        with self._connection("rounds") as conn, conn.transaction():
            old = f"select id from {HOLDS} where ended_at < now() - %s::interval"
            conn.execute(f"delete from {ACKS} where hold_id in ({old})", (KEEP_ENDED,))
            conn.execute(f"delete from {HOLDS} where ended_at < now() - %s::interval", (KEEP_ENDED,))
            conn.execute(f"delete from {REPLICAS} where seen_at < now() - %s::interval", (KEEP_ENDED,))

    # --- the admin API's side ---------------------------------------------------------------------------------

    def create(
        self, hold_id: str, path: str, *, timeout: float, max_queue: int, reason: str, holder: str, lease: float | None
    ) -> None:
        with self._connection("admin") as conn:
            conn.execute(
                f"insert into {HOLDS} (id, path, reason, holder, timeout, lease, max_queue, deadline) "
                f"values (%s, %s, %s, %s, %s, %s, %s, now() + %s * interval '1 second')",
                (hold_id, path, reason, holder, timeout, lease, max_queue, timeout),
            )
            conn.execute("select pg_notify(%s, %s)", (CHANNEL, hold_id))

    def missing_acks(self, hold_id: str) -> tuple[str | None, list[str]]:
        """The hold's outcome (None while in force) and the live replicas that have not acknowledged it yet."""
        with self._connection("admin") as conn:
            row = conn.execute(f"select outcome from {HOLDS} where id = %s", (hold_id,)).fetchone()
            missing = conn.execute(
                f"select r.replica from {REPLICAS} r left join {ACKS} a on a.hold_id = %s and a.replica = r.replica "
                f"where r.seen_at > now() - %s * interval '1 second' and a.replica is null order by r.replica",
                (hold_id, self.dead_after),
            ).fetchall()
        outcome = "released" if row is None else row[0]
        return outcome, [str(r[0]) for r in missing]

    def in_place(self, hold_id: str, lease: float | None) -> None:
        """Every live replica acknowledged: the lease, if any, runs from now."""
        if lease is None:
            return
        with self._connection("admin") as conn:
            conn.execute(
                f"update {HOLDS} set lease_until = now() + %s * interval '1 second' where id = %s and outcome is null",
                (lease, hold_id),
            )

    def renew(self, ids: Sequence[str]) -> list[str]:
        """Renew the leases of the holds in force among `ids`; return those ids."""
        with self._connection("admin") as conn:
            rows = conn.execute(
                f"update {HOLDS} set lease_until = case when lease is null then lease_until "
                f"else now() + lease * interval '1 second' end where id = any(%s) and {LIVE} returning id",
                (list(ids),),
            ).fetchall()
        return [str(r[0]) for r in rows]

    def end(self, hold_id: str, outcome: str = "released") -> StoredHold | None:
        """End the hold (None if it had ended already). Waits out an owner change committing under it."""
        with self._connection("admin") as conn:
            row = conn.execute(
                f"update {HOLDS} set outcome = %s, ended_at = now() where id = %s and outcome is null "
                f"and coalesce(committing_until, '-infinity') < now() returning {HOLD_COLUMNS}",
                (outcome, hold_id),
            ).fetchone()
            if row is None:
                committing = conn.execute(
                    f"select 1 from {HOLDS} where id = %s and outcome is null", (hold_id,)
                ).fetchone()
                if committing is not None:
                    raise CommitInProgress(hold_id)
            else:
                conn.execute("select pg_notify(%s, %s)", (CHANNEL, hold_id))
        return None if row is None else _hold(row)

    def in_force(self, holder: str = "") -> list[StoredHold]:
        with self._connection("admin") as conn:
            rows = conn.execute(
                f"select {HOLD_COLUMNS} from {HOLDS} where {LIVE} and starts_with(holder, %s) order by started_at",
                (holder,),
            ).fetchall()
        return [_hold(r) for r in rows]

    def begin_commit(self, ids: Sequence[str]) -> list[StoredHold]:
        """Mark the holds in force among `ids` as committing (they cannot end for COMMIT_BOUND seconds) and return
        them: the caller checks they cover what it changes, then calls `end_commit`."""
        with self._connection("admin") as conn, conn.transaction():
            rows = conn.execute(
                f"select {HOLD_COLUMNS} from {HOLDS} where id = any(%s) and {LIVE} for update", (list(ids),)
            ).fetchall()
            conn.execute(
                f"update {HOLDS} set committing_until = now() + %s * interval '1 second' where id = any(%s)",
                (COMMIT_BOUND, [str(r[0]) for r in rows]),
            )
        return [_hold(r) for r in rows]

    def end_commit(self, ids: Sequence[str]) -> None:
        with self._connection("admin") as conn:
            conn.execute(f"update {HOLDS} set committing_until = null where id = any(%s)", (list(ids),))

    def replicas(self) -> list[dict[str, Any]]:
        with self._connection("admin") as conn:
            rows = conn.execute(
                f"select replica, host, pid, extract(epoch from now() - seen_at), "
                f"seen_at > now() - %s * interval '1 second' from {REPLICAS} order by replica",
                (self.dead_after,),
            ).fetchall()
        return [
            {"replica": r[0], "host": r[1], "pid": r[2], "seen_s_ago": round(float(r[3]), 3), "live": bool(r[4])}
            for r in rows
        ]


class CommitInProgress(Exception):
    """An owner change is committing under the hold: it ends once that is done (retry shortly)."""


def _hold(row: tuple[Any, ...]) -> StoredHold:
    return StoredHold(
        id=str(row[0]),
        path=str(row[1]),
        reason=str(row[2]),
        holder=str(row[3]),
        timeout=float(row[4]),
        lease=None if row[5] is None else float(row[5]),
        max_queue=int(row[6]),
        age_s=float(row[7]),
        lease_left_s=None if row[8] is None else float(row[8]),
        outcome=row[9],
    )
