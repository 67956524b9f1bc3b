"""Active health checks of the upstreams: ``GET <health_path>`` on each, concurrently, within its timeouts.

`ProxyApp.check_health()` returns one `Health` per upstream; the admin API can serve it and the CLI print it.
Passive health (refused connections, timeouts) is the circuit breaker's job; its state is reported alongside.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from strangler_proxy.dataplane.model import Upstream
from strangler_proxy.errors import UpstreamError
from strangler_proxy.http.client import UpstreamPool


@dataclass(frozen=True, slots=True)
class Health:
    upstream: str
    healthy: bool  # a 2xx or 3xx answer to GET health_path
    status: int | None
    error: str | None
    seconds: float
    breaker: str  # closed / half_open / open


async def check(upstream: Upstream, pool: UpstreamPool) -> Health:
    started = time.perf_counter()
    path = upstream.health_path.encode() or b"/"
    status: int | None = None
    error: str | None = None
    try:
        response = await pool.request("GET", path, [(b"user-agent", b"strangler-health")])
        try:
            status = response.status
            async for _ in response.chunks():
                pass
        finally:
            response.release()
    except UpstreamError as exc:
        error = f"{exc.code}: {exc.detail}"
    healthy = status is not None and 200 <= status < 400
    return Health(upstream.name, healthy, status, error, time.perf_counter() - started, pool.breaker.state.name.lower())


async def check_all(pools: list[tuple[Upstream, UpstreamPool]]) -> list[Health]:
    return list(await asyncio.gather(*(check(upstream, pool) for upstream, pool in pools)))
