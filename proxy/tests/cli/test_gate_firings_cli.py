"""A gate that fires is loud: `strangler routes list` and `history` mark it, `/metrics` counts it, and the next command
that changes a route warns about it. A firing the data state forbids acting on moves nothing and says so."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from compare_helpers import Shop
from conftest import LoopThread
from control_plane_helpers import ADMIN_TOKEN, ProxyProcess, proxy_process, run_cli, wait_for
from strangler_proxy.control.admin_client import AdminClient
from strangler_proxy.control.store import open_store
from strangler_proxy.control.table_codec import table_from_dict
from strangler_proxy.dataplane.model import RouteTable
from upstream_double import Upstream

pytest_plugins = ("control_plane_fixtures",)

PRODUCTS = "/api/catalog/products"
GATE = {"shadow_monolith": True, "noise_sample": 0.0, "gate_min_samples": 10, "gate_window": 10}
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def failing_service(loop_thread: LoopThread) -> Iterator[tuple[str, str]]:
    """A monolith that answers and a service that answers 500: any compared request makes the gate's case."""
    monolith = Upstream("monolith", Shop().handle)
    service = Upstream("catalog", Shop(status=500).handle)
    loop_thread.run(monolith.start())
    loop_thread.run(service.start())
    yield monolith.url, service.url
    loop_thread.run(monolith.stop())
    loop_thread.run(service.stop())


def start(db: Path, upstreams: tuple[str, str], route: dict[str, Any]) -> None:
    store = open_store(str(db))
    monolith, service = upstreams
    table = table_from_dict(
        {"upstreams": {"monolith": monolith, "catalog": service}, "routes": [{**route, "compare": GATE}]}
    )
    store.commit(RouteTable(0, table.upstreams, table.routes), expected_version=0, author="alice@test", reason="t")
    store.close()


def ten_reads(proxy: ProxyProcess) -> None:
    with httpx.Client(base_url=proxy.public_url) as client:
        for _ in range(10):
            client.get(PRODUCTS)


def firings(proxy: ProxyProcess) -> list[dict[str, Any]]:
    return list(httpx.get(proxy.admin_url + "/gates", headers=AUTH).json()["firings"])


def test_a_firing_is_marked_by_list_and_history_counted_and_warned_about(
    failing_service: tuple[str, str], tmp_path: Path
) -> None:
    db = tmp_path / "routes.sqlite3"
    start(db, failing_service, {"path": "/api/catalog", "service": "catalog", "stage": "canary", "percent": 100})
    with proxy_process(STRANGLER_ROUTE_STORE=str(db)) as proxy:
        ten_reads(proxy)
        wait_for(lambda: len(firings(proxy)) == 1, timeout=10)
        (firing,) = firings(proxy)
        assert (firing["outcome"], firing["stage"], firing["samples"], firing["version"]) == (
            "rolled_back",
            "canary 100%",
            10,
            2,
        )
        listed = run_cli("routes", "list", admin_url=proxy.admin_url)
        assert listed.returncode == 0
        row = next(line for line in listed.stdout.splitlines() if line.strip().startswith("/api/catalog"))
        assert "shadow" in row and "FIRED" in row
        assert "gate firings in the last hour" in listed.stdout
        assert "service 5xx rate 100.0% > 1.0%" in listed.stdout and "canary 100% -> shadow" in listed.stdout
        history = run_cli("routes", "history", admin_url=proxy.admin_url)
        assert "version 2" in history.stdout and "gate  [GATE FIRED]" in history.stdout
        metrics = httpx.get(proxy.admin_url + "/metrics", headers=AUTH).text
        assert 'strangler_compare_gate_firings_total{outcome="rolled_back",route="/api/catalog"} 1.0' in metrics
        changed = run_cli(
            "routes",
            "set",
            "/api/catalog",
            "--stage",
            "canary",
            "--percent",
            "10",
            "--reason",
            "try again",
            admin_url=proxy.admin_url,
        )
        assert changed.returncode == 0, changed.stderr
        assert "warning: the gate of /api/catalog fired" in changed.stderr and "routes history" in changed.stderr


def test_a_firing_on_a_route_whose_service_owns_the_data_moves_nothing_and_says_what_to_run(
    failing_service: tuple[str, str], tmp_path: Path
) -> None:
    db = tmp_path / "routes.sqlite3"
    start(db, failing_service, {"path": "/api/catalog", "service": "catalog", "stage": "shadow", "data": "catalog"})
    with proxy_process(STRANGLER_ROUTE_STORE=str(db)) as proxy:
        with AdminClient(proxy.admin_url, ADMIN_TOKEN, author="the cutover") as admin:  # as the engine moves it
            fence = admin.hold_writes(["/api/catalog"], timeout=10, max_queue=10, holder="catalog/cutover/t1")
            admin.report_data_state(
                spec="catalog",
                routes=["/api/catalog"],
                phase="live",
                owner="service",
                lag_seconds=0.0,
                verify_clean=True,
                verified_at=None,
                fence=fence,
            )
            for hold_id in fence:
                admin.release(hold_id)
        live = run_cli(
            "routes", "set", "/api/catalog", "--stage", "live", "--reason", "cutover", admin_url=proxy.admin_url
        )
        assert live.returncode == 0, live.stderr
        ten_reads(proxy)
        wait_for(lambda: len(firings(proxy)) == 1, timeout=10)
        (firing,) = firings(proxy)
        assert firing["outcome"] == "held" and firing["version"] is None
        assert "strangler data rollback" in firing["detail"]
        current = run_cli("routes", "list", "--json", admin_url=proxy.admin_url)
        (route,) = json.loads(current.stdout)["table"]["routes"]
        assert route["stage"] == "live"  # never moved: canary would split writes while the service owns the data
        history = run_cli("routes", "history", admin_url=proxy.admin_url)
        assert "GATE FIRED" in history.stdout and "HELD" in history.stdout
        assert "rollback failed" not in proxy.log_text() and "fired" in proxy.log_text()
        metrics = httpx.get(proxy.admin_url + "/metrics", headers=AUTH).text
        assert 'strangler_compare_gate_firings_total{outcome="held",route="/api/catalog"} 1.0' in metrics


def test_a_proxy_that_keeps_no_firings_still_lists_its_routes_and_says_so(admin: tuple[str, Any]) -> None:
    url, _ = admin  # the route endpoints alone, as a proxy from before gate firings were kept
    listed = run_cli("routes", "list", admin_url=url)
    assert listed.returncode == 0 and "route store is empty" in listed.stdout
    assert "this proxy keeps no gate firings" in listed.stderr
