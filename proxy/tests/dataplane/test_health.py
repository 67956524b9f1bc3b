from __future__ import annotations

import asyncio

from conftest import Stack
from upstream_double import Received, respond


def test_health_checks_get_each_upstreams_health_path(stack: Stack) -> None:
    async def sick(req: Received, writer: asyncio.StreamWriter) -> None:
        await respond(writer, 503, None, b"{}")

    stack.catalog.handler = sick
    results = {h.upstream: h for h in stack.lt.run(stack.app.check_health())}
    assert results["monolith"].healthy and results["monolith"].status == 200
    assert not results["catalog"].healthy and results["catalog"].status == 503
    assert [r.target for r in stack.monolith.received] == [b"/healthz"]
    assert results["monolith"].breaker == "closed"


def test_a_dead_upstream_is_reported_with_the_reason(stack: Stack) -> None:
    stack.lt.run(stack.catalog.stop())
    results = {h.upstream: h for h in stack.lt.run(stack.app.check_health())}
    catalog = results["catalog"]
    assert not catalog.healthy and catalog.status is None
    assert catalog.error is not None and catalog.error.startswith("upstream_unreachable")
