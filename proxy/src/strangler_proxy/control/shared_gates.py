# ruff: noqa: S608 - statements name only this module's constant table; values always go in as parameters
"""Comparison gate samples shared by replicas through the PostgreSQL store, so each replica's gate window holds the
samples of all of them (`compare/gates.py`, `SharedEvidence`).

    evidence = PostgresGateEvidence(url, replica="web-1")
    theirs = evidence.exchange(mine)     # store mine, get the other replicas' samples stored since the last call

`strangler_gate_samples` is UNLOGGED (evidence, not a record: the firings are kept in `strangler_gate_firings`);
rows older than `KEEP` are deleted now and then. A sample whose insert commits after a later id was read is missed
(ids are handed out before commit): evidence thins a little, it never mixes routes. Blocking: the comparator calls
it from a worker thread, one call at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import psycopg

from strangler_proxy.compare.gates import Sample, SharedSample
from strangler_proxy.errors import StoreUnavailable

TABLE = "strangler_gate_samples"
KEEP = "10 minutes"
PURGE_EVERY = 120  # exchanges between deletions of old samples
MAX_READ = 20_000  # samples read in one exchange at most (a window is 1000 by default)

SCHEMA = (
    f"create unlogged table if not exists {TABLE} (id bigserial primary key, replica text not null, "
    f"route text not null, fingerprint text not null, net_diff boolean not null, service_5xx boolean not null, "
    f"monolith_s double precision not null, service_s double precision not null, "
    f"at timestamptz not null default now())"
)


class PostgresGateEvidence:
    def __init__(self, url: str, *, replica: str) -> None:
        self.url = url
        self.replica = replica
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()
        self._exchanges = 0
        with self._lock:
            conn = self._connection()
            with conn.transaction():
                conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (TABLE,))
                conn.execute(SCHEMA)
            row = conn.execute(f"select coalesce(max(id), 0) from {TABLE}").fetchone()
        self._seen = int(row[0]) if row else 0  # evidence from before this replica started is not its business

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=2)
            except psycopg.Error as exc:
                raise StoreUnavailable(f"gate samples: cannot connect: {exc}") from exc
        return self._conn

    def exchange(self, mine: Sequence[SharedSample]) -> list[SharedSample]:
        with self._lock:
            try:
                conn = self._connection()
                with conn.cursor() as cursor:
                    if mine:
                        cursor.executemany(
                            f"insert into {TABLE} (replica, route, fingerprint, net_diff, service_5xx, monolith_s, "
                            f"service_s) values (%s, %s, %s, %s, %s, %s, %s)",
                            [
                                (
                                    self.replica,
                                    s.route,
                                    s.fingerprint,
                                    s.sample.net_diff,
                                    s.sample.service_5xx,
                                    s.sample.monolith_seconds,
                                    s.sample.service_seconds,
                                )
                                for s in mine
                            ],
                        )
                    rows = cursor.execute(
                        f"select id, route, fingerprint, net_diff, service_5xx, monolith_s, service_s from {TABLE} "
                        f"where id > %s and replica <> %s order by id limit %s",
                        (self._seen, self.replica, MAX_READ),
                    ).fetchall()
                    self._exchanges += 1
                    if self._exchanges % PURGE_EVERY == 0:
                        cursor.execute(f"delete from {TABLE} where at < now() - %s::interval", (KEEP,))
            except psycopg.Error as exc:
                raise StoreUnavailable(f"gate samples: {exc}") from exc
        if rows:
            self._seen = max(self._seen, int(rows[-1][0]))
        return [SharedSample(r[1], r[2], Sample(bool(r[3]), bool(r[4]), float(r[5]), float(r[6]))) for r in rows]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
