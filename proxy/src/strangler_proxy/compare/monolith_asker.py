"""Ask the monolith a mirrored request once more, for the comparison's own use: the Diffy-style noise sample (the
monolith against itself) and nginx's mirror intake (the primary answer nginx does not hand over).

    asker = MonolithAsker(app)
    answer = await asker.ask(request)   # a CapturedResponse, body kept up to the shadow pool's limit; None when the
                                        # table has no monolith or it did not answer (`why` says what happened)
    await asker.close()

The request goes out marked as a shadow (`SHADOW_HEADER`), on pools of its own: the comparison never takes a
connection the live traffic is waiting for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

from strangler_proxy.dataplane.app import ProxyApp
from strangler_proxy.dataplane.model import Upstream
from strangler_proxy.dataplane.shadow import SHADOW_HEADER, CapturedResponse, MirroredRequest
from strangler_proxy.errors import UpstreamError
from strangler_proxy.http.client import UpstreamPool

log = logging.getLogger("strangler.compare")


class MonolithAsker:
    def __init__(self, app: ProxyApp) -> None:
        self.app = app
        self._pools: dict[Upstream, UpstreamPool] = {}

    async def ask(self, request: MirroredRequest, *, why: str) -> CapturedResponse | None:
        """The monolith's answer to `request`, or None (logged with `why`, the caller's purpose) when there is no
        monolith in the table or it did not answer."""
        table = self.app.table
        upstream = table.upstreams.get(table.default_upstream)
        if upstream is None:
            return None
        pool = self._pools.get(upstream)
        if pool is None:
            pool = self._pools[upstream] = UpstreamPool(upstream)
        limit = self.app.shadow.body_limit
        started = time.perf_counter()
        try:
            response = await pool.request(
                request.method,
                request.target,
                [*request.headers, SHADOW_HEADER],
                body=_one_piece(request.body) if request.body else None,
                length=len(request.body) if request.body else None,
            )
            try:
                body = bytearray()
                truncated = False
                async for chunk in response.chunks():
                    truncated = truncated or len(body) + len(chunk) > limit
                    body += chunk[: max(0, limit - len(body))]
            finally:
                response.release()
        except UpstreamError as exc:
            log.info("%s %s: the monolith did not answer: %s", why, request.request_id, exc)
            return None
        return CapturedResponse(
            response.status, response.headers, bytes(body), truncated, time.perf_counter() - started
        )

    async def close(self) -> None:
        for pool in self._pools.values():
            await pool.close()
        self._pools.clear()


async def _one_piece(body: bytes) -> AsyncIterator[bytes]:
    yield body
