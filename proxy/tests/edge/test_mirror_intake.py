"""The comparator's intake for another data plane's mirrors: a mirrored safe request on a shadow route is answered
at once, then the monolith and the service are asked and their answers compared into the mismatch store, as the
proxy's own shadow traffic is. Nothing else is compared, and nothing is sent twice to the monolith's writes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import LoopThread
from strangler_proxy.compare.comparator import Comparator
from strangler_proxy.compare.mirror_intake import MirrorIntake
from strangler_proxy.compare.mismatch_store import MismatchStore, open_mismatch_store
from strangler_proxy.dataplane.app import ProxyApp
from strangler_proxy.dataplane.model import Route, RouteTable, Stage, Upstream
from strangler_proxy.http.server import ProxyServer
from upstream_double import Received, respond
from upstream_double import Upstream as Double


def priced(price: str) -> object:
    async def handler(req: Received, writer: asyncio.StreamWriter) -> None:
        await respond(writer, 200, None, b'{"id": 1, "price": "%s"}' % price.encode())

    return handler


@dataclass
class Intake:
    lt: LoopThread
    monolith: Double
    catalog: Double
    app: ProxyApp
    intake: MirrorIntake
    server: ProxyServer
    comparator: Comparator
    mismatches: MismatchStore

    def mirror(self, method: str, target: str, request_id: str) -> int:
        url = f"http://127.0.0.1:{self.server.public_port}{target}"
        headers = {"X-Request-Id": request_id, "X-Strangler-Mirror-Service": "catalog"}
        return httpx.request(method, url, headers=headers, content=b"{}" if method == "POST" else None).status_code

    def settle(self) -> None:
        self.lt.run(self.intake.drain())
        self.lt.run(self.comparator.drain())


@pytest.fixture
def intake(loop_thread: LoopThread, tmp_path: Path) -> Iterator[Intake]:
    async def start() -> Intake:
        monolith = Double("monolith", handler=priced("9.99"))  # type: ignore[arg-type]
        catalog = Double("catalog", handler=priced("10.99"))  # type: ignore[arg-type]
        await monolith.start()
        await catalog.start()
        table = RouteTable(
            version=2,
            upstreams={"monolith": Upstream("monolith", monolith.url), "catalog": Upstream("catalog", catalog.url)},
            routes=(Route("/api/catalog", "catalog", Stage.SHADOW), Route("/api/orders", "catalog", Stage.CANARY)),
        )
        app = ProxyApp(table)
        mismatches = open_mismatch_store(str(tmp_path / "mismatches.sqlite3"))
        comparator = Comparator(app, mismatches=mismatches)
        comparator.start()
        mirror_intake = MirrorIntake(app)
        server = ProxyServer(public_app=mirror_intake, host="127.0.0.1", port=0)
        await server.start()
        return Intake(loop_thread, monolith, catalog, app, mirror_intake, server, comparator, mismatches)

    it = loop_thread.run(start())
    yield it

    async def stop() -> None:
        await it.server.stop()
        await it.comparator.close()
        await it.app.close()
        await it.monolith.stop()
        await it.catalog.stop()

    loop_thread.run(stop())
    it.mismatches.close()


def test_a_mirrored_read_is_compared_into_the_mismatch_store(intake: Intake) -> None:
    assert intake.mirror("GET", "/api/catalog/1?x=1", "edge-read") == 202
    intake.settle()
    (stored,) = intake.mismatches.recent()
    assert (stored.request_id, stored.route, stored.target) == ("edge-read", "/api/catalog", "/api/catalog/1?x=1")
    assert stored.fields == ["$.price"]
    # the intake's own question, and perhaps the comparator's noise sample: each marked as a shadow request
    assert intake.monolith.received and all(r.header("x-strangler-shadow") == b"1" for r in intake.monolith.received)
    assert [r.header("x-strangler-shadow") for r in intake.catalog.received] == [b"1"]


def test_writes_and_routes_not_in_shadow_are_not_compared(intake: Intake) -> None:
    assert intake.mirror("POST", "/api/catalog/", "edge-write") == 204
    assert intake.mirror("GET", "/api/orders/1", "edge-canary") == 204
    assert intake.mirror("GET", "/api/customers/1", "edge-no-route") == 204
    intake.settle()
    assert intake.mismatches.recent() == []
    assert intake.monolith.received == [] and intake.catalog.received == []
