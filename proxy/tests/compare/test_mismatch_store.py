"""The mismatch store keeps what it is given, bounded in rows and age, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from strangler_proxy.compare.mismatch_store import Limits, open_mismatch_store
from strangler_proxy.control.store import open_store
from strangler_proxy.errors import UnknownMismatch

pytest_plugins = ["compare_fixtures"]


def record(n: int, route: str = "/api/catalog") -> dict[str, Any]:
    return {
        "route": route,
        "request": {"method": "GET", "target": f"/api/catalog/{n}", "headers": [], "body": ""},
        "expected": {"status": 200, "headers": [], "body": '{"p": "1.00"}'},
        "actual": {"status": 200, "headers": [], "body": '{"p": "1.0"}'},
        "diffs": [{"path": "$.p", "field": "$.p", "kind": "changed", "expected": "1.00", "actual": "1.0"}],
        "net_fields": ["$.p"],
    }


def test_a_stored_mismatch_reads_back_whole_and_is_listed_newest_first(db_url: str) -> None:
    store = open_mismatch_store(db_url)
    first = store.add(record(1))
    second = store.add(record(2, route="/api/orders"))
    assert [s.id for s in store.recent()] == [second, first]
    assert [s.id for s in store.recent(route="/api/catalog")] == [first]
    got = store.get(first)
    assert got["id"] == first and got["diffs"][0]["path"] == "$.p" and got["request"]["target"] == "/api/catalog/1"
    assert store.recent()[1].as_dict()["status"] == "200 -> 200"


def test_the_store_keeps_at_most_max_rows_dropping_the_oldest(db_url: str) -> None:
    store = open_mismatch_store(db_url, Limits(max_rows=5))
    ids = [store.add(record(n)) for n in range(8)]
    assert [s.id for s in store.recent()] == list(reversed(ids[-5:]))


def test_the_store_forgets_mismatches_older_than_max_age(db_url: str) -> None:
    store = open_mismatch_store(db_url, Limits(max_age=60))
    old = store.add(record(1), now=1_000_000.0)
    new = store.add(record(2), now=1_000_100.0)
    assert store.prune(now=1_000_100.0) == 1
    assert [s.id for s in store.recent()] == [new]
    with pytest.raises(UnknownMismatch):
        store.get(old)


def test_an_unknown_id_is_a_clear_error(db_url: str) -> None:
    store = open_mismatch_store(db_url)
    with pytest.raises(UnknownMismatch, match="no stored mismatch has id 42"):
        store.get(42)


def test_the_mismatch_table_lives_beside_the_route_store_without_touching_it(db_url: str) -> None:
    routes = open_store(db_url)
    mismatches = open_mismatch_store(db_url)
    mismatches.add(record(1))
    assert routes.latest_version() == 0 and mismatches.count() == 1
    routes.close()
