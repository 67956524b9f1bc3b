"""Routes gated by their data: canary and live are refused until the engine reports the data ready."""

from __future__ import annotations

import time
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest
from strangler_proxy.control.data_state import DataGate, GateLimits, open_data_states, state_from_dict
from strangler_proxy.control.route_changes import route_set
from strangler_proxy.control.store import RouteStore
from strangler_proxy.control.table_codec import table_from_dict
from strangler_proxy.errors import DataNotReady, TableInvalid

pytest_plugins = ["control_plane_fixtures"]


@pytest.fixture
def gated(store: RouteStore, store_url: str) -> Iterator[tuple[RouteStore, DataGate]]:
    if store_url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as conn:
            conn.execute("drop table if exists strangler_data_state")
    gate = DataGate(open_data_states(store_url), GateLimits(max_lag=1.0, max_age=60.0))
    store.gate = gate.check
    table = table_from_dict(
        {
            "upstreams": {"monolith": {"url": "http://127.0.0.1:1"}, "catalog": {"url": "http://127.0.0.1:2"}},
            "routes": [
                {"path": "/api/catalog", "service": "catalog", "stage": "shadow", "data": "catalog"},
                {"path": "/api/search", "service": "catalog", "stage": "off"},
            ],
        }
    )
    store.commit(table, expected_version=0, author="alice", reason="start")
    yield store, gate


def _report(gate: DataGate, **fields: Any) -> None:
    body = {
        "spec": "catalog",
        "routes": ["/api/catalog"],
        "phase": "syncing",
        "owner": "monolith",
        "lag_seconds": 0.2,
        "verify_clean": True,
        "verified_at": "2026-11-25T16:00:00+00:00",
    }
    gate.states.put(state_from_dict({**body, **fields}))


def _move(store: RouteStore, path: str, stage: str, **extra: Any) -> int:
    fields = {"path": path, "stage": stage, **extra}
    version = store.latest_version()
    return route_set(store, fields=fields, expected_version=version, author="alice", reason="move").version


def _refusal(store: RouteStore, stage: str, **extra: Any) -> str:
    before = store.latest_version()
    with pytest.raises(DataNotReady) as caught:
        _move(store, "/api/catalog", stage, **extra)
    assert caught.value.status == 409
    assert store.latest_version() == before  # nothing stored
    return str(caught.value)


def test_it_refuses_canary_and_live_before_any_data_report(gated: tuple[RouteStore, DataGate]) -> None:
    store, _ = gated
    assert "no report" in _refusal(store, "canary", percent=10)
    assert "strangler data verify" in _refusal(store, "canary", percent=10)
    message = _refusal(store, "live")
    assert "/api/catalog" in message and "strangler data cutover" in message


def test_it_refuses_canary_while_unverified_lagging_or_stale(gated: tuple[RouteStore, DataGate]) -> None:
    store, gate = gated
    _report(gate, verify_clean=None)
    assert "never verified" in _refusal(store, "canary", percent=10)
    _report(gate, verify_clean=False)
    assert "found differences" in _refusal(store, "canary", percent=10)
    _report(gate, lag_seconds=4.5)
    assert "lag 4.500s" in _refusal(store, "canary", percent=10)
    _report(gate)
    gate.limits = GateLimits(max_lag=1.0, max_age=0.05)
    time.sleep(0.1)
    assert "fresh data report" in _refusal(store, "canary", percent=10)


def test_it_allows_canary_once_synced_and_verified(gated: tuple[RouteStore, DataGate]) -> None:
    store, gate = gated
    _report(gate)
    assert _move(store, "/api/catalog", "canary", percent=10) == 2
    _report(gate, lag_seconds=30.0)  # already in canary: a later report does not move the route
    assert _move(store, "/api/catalog", "canary", percent=50) == 3


def test_it_refuses_live_until_the_service_owns_the_data(gated: tuple[RouteStore, DataGate]) -> None:
    store, gate = gated
    _report(gate)
    assert "strangler data cutover" in _refusal(store, "live")
    _report(gate, owner="service", phase="live")
    assert _move(store, "/api/catalog", "live") == 2
    assert "strangler data rollback" in _refusal(store, "canary", percent=10)


def test_a_rollback_to_a_live_version_is_gated_too(gated: tuple[RouteStore, DataGate]) -> None:
    store, gate = gated
    _report(gate, owner="service", phase="live")
    _move(store, "/api/catalog", "live")
    _move(store, "/api/catalog", "shadow")
    _report(gate, owner="monolith", verify_clean=None)
    with pytest.raises(DataNotReady):
        store.rollback(to_version=2, expected_version=3, author="alice", reason="back to live")
    assert store.latest_version() == 3


def test_a_route_without_a_data_dependency_is_never_gated(gated: tuple[RouteStore, DataGate]) -> None:
    store, _ = gated
    assert _move(store, "/api/search", "live") == 2


def test_a_bad_data_report_is_refused_naming_each_field(gated: tuple[RouteStore, DataGate]) -> None:
    _, gate = gated
    with pytest.raises(TableInvalid) as caught:
        state_from_dict({"spec": "Bad Name", "phase": "", "owner": "nobody", "lag_seconds": -1, "extra": 1})
    fields = {p.field for p in caught.value.problems}
    assert fields == {"spec", "phase", "owner", "lag_seconds", "extra"}
    assert gate.states.all() == []


def test_a_route_names_its_data_with_a_valid_spec_name(gated: tuple[RouteStore, DataGate]) -> None:
    store, _ = gated
    with pytest.raises(TableInvalid) as caught:
        _move(store, "/api/search", "off", data="Not A Spec")
    assert "data" in str(caught.value)


def test_a_routes_file_keeps_the_data_a_route_stands_on_and_the_audit_names_it() -> None:
    from strangler_proxy.control.routes_toml import dump_routes_toml
    from strangler_proxy.control.table_diff import diff_tables

    upstreams = {"monolith": {"url": "http://127.0.0.1:1"}, "catalog": {"url": "http://127.0.0.1:2"}}
    declared = table_from_dict(
        {"upstreams": upstreams, "routes": [{"path": "/api/catalog", "service": "catalog", "data": "catalog"}]}
    )
    text = dump_routes_toml(declared)
    assert 'data = "catalog"' in text
    assert table_from_dict(tomllib.loads(text)).routes[0].data == "catalog"
    plain = table_from_dict({"upstreams": upstreams, "routes": [{"path": "/api/catalog", "service": "catalog"}]})
    assert diff_tables(plain, declared) == ["~ route /api/catalog: data none -> catalog"]
