# ruff: noqa: S608 - statements name only this file's scratch table; values always go in as parameters
"""Benchmark: where replicas share read-your-writes pins, PostgreSQL or Redis, measured in one run.

    .venv/bin/python bench/proxy/shared_pins.py [--ops 3000] [--seconds 3] [--json]

For each backend, from the proxy's own event loop (uvloop) and with the client libraries the proxy would use
(psycopg 3 `AsyncConnection`, redis-py's `redis.asyncio`): the latency of one pin write (a client's write pins it
for a few seconds: PostgreSQL upsert with an expiry time / Redis `SET ... PX`) and of one lookup (PostgreSQL
`select ... where until > now()` / Redis `GET`), one at a time (p50, p99 in microseconds), then the throughput of
lookups with 32 concurrent tasks over 4 connections (ops/s). Needs PostgreSQL at STRANGLER_TEST_POSTGRES (default
postgresql://postgres@127.0.0.1:5432/postgres; a scratch table is created and dropped) and Redis at
STRANGLER_REDIS_URL (default redis://127.0.0.1:6379/0; keys under `strangler-bench:`, deleted at the end).

A measurement, not a test: on a shared 2-core machine the database and this process compete for CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import redis.asyncio as aioredis

POSTGRES = os.environ.get("STRANGLER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("STRANGLER_REDIS_URL", "redis://127.0.0.1:6379/0")
TABLE = f"strangler_bench_pins_{secrets.token_hex(3)}"
CLIENTS = 10_000
PIN_MS = 5000
CONNECTIONS = 4
CONCURRENCY = 32


class Postgres:
    name = "postgresql"

    async def open(self) -> None:
        self.conns = [await psycopg.AsyncConnection.connect(POSTGRES, autocommit=True) for _ in range(CONNECTIONS)]
        self.locks = [asyncio.Lock() for _ in self.conns]
        await self.conns[0].execute(
            f"create unlogged table {TABLE} (service text, key text, upstream text not null, "
            f"until timestamptz not null, primary key (service, key))"
        )
        self.next = 0

    async def _run(self, query: str, params: tuple[Any, ...]) -> Any:
        i = self.next = (self.next + 1) % CONNECTIONS
        async with self.locks[i]:
            cursor = await self.conns[i].execute(query, params)
            return await cursor.fetchone() if cursor.description else None

    async def pin(self, key: str) -> None:
        await self._run(
            f"insert into {TABLE} values ('catalog', %s, 'monolith', now() + %s * interval '1 millisecond') "
            f"on conflict (service, key) do update set upstream = excluded.upstream, until = excluded.until",
            (key, PIN_MS),
        )

    async def lookup(self, key: str) -> Any:
        return await self._run(
            f"select upstream from {TABLE} where service = 'catalog' and key = %s and until > now()", (key,)
        )

    async def close(self) -> None:
        await self.conns[0].execute(f"drop table if exists {TABLE}")
        for conn in self.conns:
            await conn.close()


class Redis:
    name = "redis"

    async def open(self) -> None:
        pool = aioredis.BlockingConnectionPool.from_url(REDIS, max_connections=CONNECTIONS)
        self.client = aioredis.Redis(connection_pool=pool)
        await self.client.ping()

    async def pin(self, key: str) -> None:
        await self.client.set(f"strangler-bench:catalog:{key}", "monolith", px=PIN_MS)

    async def lookup(self, key: str) -> Any:
        return await self.client.get(f"strangler-bench:catalog:{key}")

    async def close(self) -> None:
        keys = [k async for k in self.client.scan_iter("strangler-bench:*", count=1000)]
        if keys:
            await self.client.delete(*keys)
        await self.client.aclose()


async def latencies(op: Callable[[str], Awaitable[Any]], ops: int) -> dict[str, float]:
    taken = []
    for i in range(ops):
        key = f"client-{i % CLIENTS}"
        started = time.perf_counter()
        await op(key)
        taken.append(time.perf_counter() - started)
    taken.sort()
    return {
        "p50_us": round(statistics.median(taken) * 1e6, 1),
        "p99_us": round(statistics.quantiles(taken, n=100)[98] * 1e6, 1),
    }


async def throughput(op: Callable[[str], Awaitable[Any]], seconds: float) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(n: int) -> None:
        nonlocal done
        i = n
        while time.perf_counter() < deadline:
            await op(f"client-{i % CLIENTS}")
            i += CONCURRENCY
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(CONCURRENCY)))
    return round(done / (time.perf_counter() - started))


async def measure(backend: Any, ops: int, seconds: float) -> dict[str, Any]:
    await backend.open()
    try:
        for i in range(0, CLIENTS, 2):  # half the clients pinned: lookups find some and miss others
            await backend.pin(f"client-{i}")
        return {
            "backend": backend.name,
            "pin": await latencies(backend.pin, ops),
            "lookup": await latencies(backend.lookup, ops),
            "pin_ops_s": await throughput(backend.pin, seconds),
            "lookup_ops_s": await throughput(backend.lookup, seconds),
        }
    finally:
        await backend.close()


async def main(ops: int, seconds: float) -> list[dict[str, Any]]:
    return [await measure(Postgres(), ops, seconds), await measure(Redis(), ops, seconds)]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        results = runner.run(main(args.ops, args.seconds))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{'backend':<11} {'pin p50/p99 us':>16} {'lookup p50/p99 us':>19} {'pins/s':>8} {'lookups/s':>10}")
        for r in results:
            pin = f"{r['pin']['p50_us']}/{r['pin']['p99_us']}"
            lookup = f"{r['lookup']['p50_us']}/{r['lookup']['p99_us']}"
            print(f"{r['backend']:<11} {pin:>16} {lookup:>19} {r['pin_ops_s']:>8} {r['lookup_ops_s']:>10}")
