# ruff: noqa: S608 - statements name only this module's constant table; values always go in as parameters
"""Read-your-writes pins in the shared PostgreSQL store, so a client pinned by a write through one replica is pinned
on every replica (`dataplane/pinning.py` says when pins are made and asked for).

    pins = PostgresPins(url)                  # app.shared_pins = pins; await pins.close() at the end
    await pins.pin("catalog", "cookie:abc", 5.0, "monolith", live=False)
    await pins.pinned("catalog", "cookie:abc", unknown="monolith")      # "monolith", or None when not pinned

`strangler_pins` is UNLOGGED (a pin lives seconds; losing them in a database crash only costs a stale read within
the sync lag) with the database's clock for expiry. Each call takes one of `CONNECTIONS` async connections and
gives up after `TIMEOUT`: a lookup then answers `unknown` (the caller sends the read to the monolith), a pin is
logged as lost. PostgreSQL rather than Redis: measured in one run (bench/proxy/shared_pins.py, docs/replicas.md),
the two differ by tens of microseconds per call from this event loop, which does not pay for a second store whose
loss each replica would also have to fence on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg

log = logging.getLogger("strangler_proxy.pins")

TABLE = "strangler_pins"
CONNECTIONS = 4
TIMEOUT = 0.5  # seconds a pin or a lookup may take before it is given up
PURGE_EVERY = 1000  # pins written between deletions of expired ones
APPLICATION_NAME = "strangler-proxy-pins"

SCHEMA = (
    f"create unlogged table if not exists {TABLE} (service text not null, key text not null, upstream text not null,"
    f" live boolean not null, until timestamptz not null, primary key (service, key))"
)
PIN = (
    f"insert into {TABLE} (service, key, upstream, live, until) values (%s, %s, %s, %s, "
    f"now() + %s * interval '1 second') on conflict (service, key) do update set upstream = excluded.upstream, "
    f"live = excluded.live, until = excluded.until"
)
LOOKUP = f"select upstream from {TABLE} where service = %s and key = %s and until > now()"


class PostgresPins:
    def __init__(self, url: str) -> None:
        self.url = url
        self._idle: asyncio.Queue[psycopg.AsyncConnection[Any] | None] = asyncio.Queue()
        for _ in range(CONNECTIONS):
            self._idle.put_nowait(None)  # connected on first use
        self._written = 0
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn, conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (TABLE,))
            conn.execute(SCHEMA)

    async def _run(self, query: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        conn = await self._idle.get()
        try:
            if conn is None or conn.closed or conn.broken:
                conn = await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=2, application_name=APPLICATION_NAME
                )
            cursor = await conn.execute(query, params)
            return await cursor.fetchone() if cursor.description else None
        except BaseException:
            if conn is not None:
                await conn.close()  # a connection interrupted mid-query is not reused
            conn = None
            raise
        finally:
            self._idle.put_nowait(conn)

    async def pin(self, service: str, key: str, seconds: float, to: str, *, live: bool) -> None:
        try:
            await asyncio.wait_for(self._run(PIN, (service, key, to, live, seconds)), TIMEOUT)
            self._written += 1
            if self._written % PURGE_EVERY == 0:
                await asyncio.wait_for(self._run(f"delete from {TABLE} where until < now()", ()), TIMEOUT)
        except (psycopg.Error, TimeoutError) as exc:
            log.warning("pin of %s to the %s for %s not shared: %s", key, to, service, str(exc).splitlines()[0])

    async def pinned(self, service: str, key: str, *, unknown: str) -> str | None:
        try:
            row = await asyncio.wait_for(self._run(LOOKUP, (service, key)), TIMEOUT)
        except (psycopg.Error, TimeoutError) as exc:
            log.warning("shared pins cannot be read (%s): the read goes to the %s", str(exc).splitlines()[0], unknown)
            return unknown
        return None if row is None else str(row[0])

    async def close(self) -> None:
        while not self._idle.empty():
            conn = self._idle.get_nowait()
            if conn is not None:
                await conn.close()
