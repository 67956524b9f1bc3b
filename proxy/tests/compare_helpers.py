"""Test doubles for the comparison tests: a small shop upstream whose answers a test can bend (a price
formatted differently, a timestamp on every answer, a 5xx), the real proxy in front of two of them, a comparator
attached, and the route store and mismatch store on SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conftest import LoopThread, Stack, start_stack, stop_stack
from strangler_proxy.compare.comparator import Comparator
from strangler_proxy.compare.mismatch_store import MismatchStore, open_mismatch_store
from strangler_proxy.compare.settings import CompareConfig
from strangler_proxy.control.route_changes import gate_rollback
from strangler_proxy.control.store import RouteStore, open_store
from strangler_proxy.control.table_codec import table_to_dict
from strangler_proxy.dataplane.identity import IdentitySigner
from strangler_proxy.dataplane.model import Route, RouteTable
from upstream_double import Received, respond


@dataclass
class Shop:
    """What a shop upstream answers: products, and how this one bends its answers."""

    price_style: str = "text"  # text: "9.99"; number: 9.99; short: "9.9" (a formatting bug)
    timestamp: bool = False  # add "generated_at" that differs on every call
    status: int = 200
    products: dict[int, dict[str, Any]] = field(
        default_factory=lambda: {
            1: {"id": 1, "name": "mug", "price": "9.99"},
            2: {"id": 2, "name": "tee", "price": "15.00"},
        }
    )
    delay: float = 0.0
    held: asyncio.Event | None = None  # set: every answer waits until it is set (on the loop: `lt.call(held.set)`)

    def price(self, text: str) -> Any:
        if self.price_style == "number":
            return float(text)
        if self.price_style == "short":
            return text.rstrip("0").rstrip(".") if "." in text else text
        return text

    async def handle(self, req: Received, writer: asyncio.StreamWriter) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.held is not None:
            await self.held.wait()
        if req.method == "POST":
            data = json.loads(req.body or b"{}")
            new_id = max(self.products, default=0) + 1
            self.products[new_id] = {"id": new_id, "name": data.get("name", "?"), "price": data.get("price", "0.00")}
            await respond(writer, 201, None, json.dumps(self.products[new_id]).encode())
            return
        results = [{**p, "price": self.price(p["price"])} for p in self.products.values()]
        page: dict[str, Any] = {"count": len(results), "results": results}
        if self.timestamp:
            page["generated_at"] = time.time_ns()
        await respond(writer, self.status, None, json.dumps(page).encode())


@dataclass
class CompareStack:
    stack: Stack
    monolith: Shop
    service: Shop
    comparator: Comparator
    routes: RouteStore | None = None
    mismatches: MismatchStore | None = None

    def drain(self) -> None:
        self.stack.lt.run(self.comparator.drain())

    def get(self, target: str = "/api/catalog/products", n: int = 1) -> list[int]:
        client = self.stack.client()
        try:
            return [client.request("GET", target)[0] for _ in range(n)]
        finally:
            client.close()


MakeStack = Callable[..., CompareStack]


def start_compare_stack(
    lt: LoopThread,
    *routes: Route,
    route_store_url: str | None = None,
    config: CompareConfig | None = None,
    monolith: Shop | None = None,
    service: Shop | None = None,
    identity: IdentitySigner | None = None,
) -> CompareStack:
    monolith = monolith or Shop()
    service = service or Shop()
    stack = start_stack(lt, identity=identity)

    async def wire() -> None:
        stack.monolith.handler = monolith.handle
        stack.catalog.handler = service.handle

    lt.run(wire())
    table = stack.table(*routes, version=1)
    store = None
    mismatches = None
    if route_store_url is not None:
        store = open_store(route_store_url)
        result = store.commit(
            RouteTable(0, table.upstreams, table.routes), expected_version=0, author="alice@test", reason="test table"
        )
        table = result.table
        mismatches = open_mismatch_store(route_store_url)
    lt.call(stack.app.set_table, table)

    async def attach() -> Comparator:
        roll_back = gate_rollback(store) if store is not None else None
        comparator = Comparator(stack.app, config=config, mismatches=mismatches, roll_back=roll_back)
        comparator.start()
        return comparator

    return CompareStack(stack, monolith, service, lt.run(attach()), store, mismatches)


def stop_compare_stack(cs: CompareStack) -> None:
    cs.stack.lt.run(cs.comparator.close())
    stop_stack(cs.stack)
    if cs.routes is not None:
        cs.routes.close()


def snapshot(store: RouteStore) -> dict[str, Any]:
    return table_to_dict(store.load().table)


def require_installed_commands() -> None:
    """The `strangler diffs`/`replay` groups exist once `make venv` installed proxy/pyproject.toml's entry points."""
    from importlib.metadata import entry_points

    import pytest

    names = {ep.name for ep in entry_points(group="strangler.commands")}
    if not {"diffs", "replay"} <= names:
        pytest.skip("`strangler diffs`/`replay` are not installed yet: run `make venv` to register the entry points")
