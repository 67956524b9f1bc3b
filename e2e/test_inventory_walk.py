"""The inventory extraction walked through the real proxy as an operator walks it (`strangler routes` and
`strangler data` with migration-playbook/specs/inventory.toml): shadow → verify + publish → canary 50% → cutover →
rollback → cutover, on PostgreSQL, while customers place and cancel orders through the proxy the whole time. An
order reserves stock: in the monolith's tables while it owns inventory, through the service (the order saga,
docs/seam.md §8) once the service does. The handover holds /api/orders with /api/inventory (the spec's
`hold_routes`), so no order reserves on the old owner after its drain. No request fails, every order a customer saw
acknowledged has its reservation on the owning side at each flip, and at the end both databases agree."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

import data_cli
from customer_load import CustomerLoad
from databases import sql
from inventory_stack import SPEC, TABLES, InventoryStack
from proxy_stack import Proxy, proxy_in_front

# Two databases migrated, a shop seeded and copied, three servers, then five handover commands on a loaded machine.
pytestmark = pytest.mark.timeout(600)

ORDERS = "/api/orders/"
SOCKS = [f"SOCK-{n:04d}" for n in (1, 2, 3, 4, 6, 7, 8, 9)]  # for sale, stocked in an active warehouse (BER-2)
ON_HAND = 100_000  # enough that no order of the walk meets insufficient stock
HELD = ["/api/inventory", "/api/orders"]

Acknowledged = dict[int, tuple[int, str]]  # order id -> (product, status the customer last saw)


@pytest.fixture(scope="module")
def walked(inventory_walk: InventoryStack) -> Iterator[Proxy]:
    # Written in the monolith after the engine's copy: its capture carries it, the first sync brings it over.
    sql(inventory_walk.monolith_database, "UPDATE inventory_stock SET quantity = %s", (ON_HAND,))
    folder = inventory_walk.logs / "walk-proxy"
    folder.mkdir(exist_ok=True)
    with proxy_in_front(
        inventory_walk.monolith.url,
        inventory_walk.service.url,
        folder,
        service="inventory",
        path="/api/inventory",
    ) as proxy:
        declared = proxy.set_stage("off", data="inventory")
        assert declared.status_code == 200, declared.text
        yield proxy


def data(command: str, stack: InventoryStack, proxy: Proxy, *extra: str) -> subprocess.CompletedProcess[str]:
    return data_cli.data_command(command, stack, proxy.admin_url, *extra, spec=SPEC, target=stack.service_database)


@dataclass
class Customers(CustomerLoad):
    """alice and bob placing one-unit orders of socks through the proxy without pause, one connection each, and
    every fourth request cancelling their oldest pending order (which releases its stock)."""

    tokens: dict[str, str]  # persona -> token
    products: list[int]
    acknowledged: Acknowledged = field(default_factory=dict)

    def personas(self) -> list[str]:
        return list(self.tokens)

    def run(self, persona: str) -> None:
        pending: list[int] = []
        with self.client(self.tokens[persona]) as client:
            for n in self.numbered():
                if pending and n % 4 == 0:
                    order = pending.pop(0)
                    answer = client.post(f"{ORDERS}{order}/cancel/")
                    expected, product = 200, self.acknowledged[order][0]
                else:
                    product = self.products[n % len(self.products)]
                    answer = client.post(ORDERS, json={"lines": [{"product": product, "quantity": 1}]})
                    expected = 201
                placed = self.answered(persona, answer, expected)
                if placed is None:
                    continue
                self.acknowledged[placed["id"]] = (product, placed["status"])
                if placed["status"] == "pending":
                    pending.append(placed["id"])


@pytest.fixture(scope="module")
def handovers() -> list[dict[str, Any]]:
    """Each handover's report (`--json`), in the walk's order."""
    return []


@pytest.fixture(scope="module")
def customers(inventory_walk: InventoryStack, walked: Proxy) -> Customers:
    """One set of customers for the whole walk: what they saw acknowledged accumulates across the steps."""
    personas = inventory_walk.shop.personas
    tokens = {name: personas[name].token for name in ("alice", "bob")}
    return Customers(walked.server.url, tokens, [inventory_walk.shop.products[sku] for sku in SOCKS])


def assert_kept(stack: InventoryStack, acknowledged: Acknowledged, owner_database: str) -> None:
    """Every acknowledged order is in the monolith as its customer last saw it, and its one-unit reservation is on
    the owning side: active while the order is pending, released once it was cancelled. No stock hold is owed."""
    ids = sorted(acknowledged)
    orders = dict(sql(stack.monolith_database, "SELECT id, status FROM orders_order WHERE id = ANY(%s)", (ids,)))
    assert orders == {order: status for order, (_product, status) in acknowledged.items()}
    reserved: dict[int, list[tuple[int, int, str]]] = {}
    for order, product, quantity, status in sql(
        owner_database,
        "SELECT order_id, product_id, quantity, status FROM inventory_reservation WHERE order_id = ANY(%s)",
        (ids,),
    ):
        reserved.setdefault(order, []).append((product, quantity, status))
    expected = {
        order: [(product, 1, "active" if status == "pending" else "released")]
        for order, (product, status) in acknowledged.items()
    }
    assert reserved == expected
    assert sql(stack.monolith_database, "SELECT key, step FROM orders_stockhold WHERE step <> 'done'") == []


def test_shadow_then_canary_once_the_data_is_verified_and_published(inventory_walk, walked, customers):
    with customers:
        assert walked.set_stage("shadow").status_code == 200
        refused = walked.set_stage("canary", percent=50)
        assert refused.status_code == 409 and refused.json()["error"] == "data_not_ready", refused.text
    # As the runbook does, between bursts of orders: catch the sync up, verify, publish.
    for step in ("sync", "verify", "publish"):
        done = data(step, inventory_walk, walked)
        assert done.returncode == 0, done.stdout + done.stderr
    with customers:
        assert walked.set_stage("canary", percent=50).status_code == 200
    assert customers.failures == []
    assert walked.stage() == "canary"
    assert_kept(inventory_walk, customers.acknowledged, inventory_walk.monolith_database)  # the monolith owns it all


def test_a_cutover_under_orders_holds_them_fails_none_and_loses_no_reservation(
    inventory_walk, walked, customers, handovers
):
    with customers:
        result = data("cutover", inventory_walk, walked)
        customers.wait_for_more(6)  # orders after the release: through the seam, to the service
    assert result.returncode == 0, result.stdout + result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    handovers.append(report)
    assert customers.failures == []
    assert report["owner"] == "service" and report["stages"] == {"/api/inventory": "live"}
    hold = next(step for step in report["steps"] if step["step"] == "hold")
    assert f"holding writes to {', '.join(HELD)}" in hold["detail"]
    assert_kept(inventory_walk, customers.acknowledged, inventory_walk.service_database)


def test_a_rollback_under_orders_gives_the_monolith_every_reservation_the_service_took(
    inventory_walk, walked, customers, handovers
):
    with customers:
        customers.wait_for_more(6)  # reservations only the service has, until the rollback drains them back
        result = data("rollback", inventory_walk, walked)
        customers.wait_for_more(6)  # orders after the release: reserved in the monolith's own transaction again
    assert result.returncode == 0, result.stdout + result.stderr
    assert customers.failures == []
    handovers.append(json.loads(result.stdout))
    assert handovers[-1]["owner"] == "monolith"
    assert walked.stage() == "canary"
    assert_kept(inventory_walk, customers.acknowledged, inventory_walk.monolith_database)


def test_a_second_cutover_under_orders_loses_nothing_and_both_sides_agree(inventory_walk, walked, customers, handovers):
    with customers:
        result = data("cutover", inventory_walk, walked)
        customers.wait_for_more(6)
    assert result.returncode == 0, result.stdout + result.stderr
    handovers.append(json.loads(result.stdout))
    assert customers.failures == []
    assert walked.stage() == "live"
    assert_kept(inventory_walk, customers.acknowledged, inventory_walk.service_database)
    # The reverse sync brings the monolith's copy level with the service: what a rollback would start from.
    for step in ("sync", "verify"):
        done = data(step, inventory_walk, walked, "--reverse")
        assert done.returncode == 0, done.stdout + done.stderr
    verified = json.loads(done.stdout)
    assert all(table["clean"] for table in verified["tables"]), verified
    for table in TABLES:
        statement = f"SELECT count(*), coalesce(sum(id), 0) FROM {table}"  # noqa: S608 (the spec's own tables)
        counted = [sql(url, statement) for url in (inventory_walk.monolith_database, inventory_walk.service_database)]
        assert counted[0] == counted[1], table
    placed = len(customers.acknowledged)
    assert placed >= 40, f"only {placed} orders: the walk hardly ran under load"
    # The race the hold closes was run: orders arrived while a handover held them, and waited (none failed).
    print(f"\n{placed} orders, {customers.requests} requests; each handover's hold (s), held requests, their p99 wait:")
    for report in handovers:
        waits = report["hold_waits"]
        print(f"  {report['op']:8} {report['hold_seconds']:.3f} s  {waits.get('held')}  {waits.get('p99_ms')} ms")
    assert sum(report["hold_waits"].get("held", 0) for report in handovers) >= 1, handovers
