"""The route store keeps every version with who/when/why, refuses stale writers, and rolls back by appending."""

from __future__ import annotations

import json
import threading

import pytest
from strangler_proxy.control.store import RouteStore, open_store
from strangler_proxy.control.table_codec import same_content, table_from_dict
from strangler_proxy.dataplane.model import RouteTable, Stage
from strangler_proxy.errors import StaleVersion, StoreEmpty, StoreUnavailable, UnknownVersion

pytest_plugins = ("control_plane_fixtures",)


def make_table(**routes_by_path: str) -> RouteTable:
    """A table with monolith and catalog upstreams; each keyword is path-name -> stage."""
    return table_from_dict(
        {
            "upstreams": {"monolith": {"url": "http://127.0.0.1:8000"}, "catalog": {"url": "http://127.0.0.1:8001"}},
            "routes": [
                {"path": "/" + path.replace("_", "/"), "service": "catalog", "stage": stage}
                for path, stage in routes_by_path.items()
            ],
        }
    )


def test_an_empty_store_is_at_version_zero_and_says_how_to_seed_it(store: RouteStore) -> None:
    assert store.latest_version() == 0
    assert store.history() == []
    with pytest.raises(StoreEmpty, match="STRANGLER_MONOLITH_URL"):
        store.load()


def test_each_change_is_a_new_version_with_who_when_why_and_a_summary(store: RouteStore) -> None:
    first = store.commit(make_table(), expected_version=0, author="alice", reason="seed")
    second = store.commit(make_table(api_catalog="shadow"), expected_version=1, author="bob", reason="start shadow")
    assert (first.version, second.version) == (1, 2)
    assert second.diff == ["+ route /api/catalog -> catalog (shadow)"]
    newest, oldest = store.history()
    assert (newest.version, newest.author, newest.reason) == (2, "bob", "start shadow")
    assert newest.summary == "+ route /api/catalog -> catalog (shadow)"
    assert oldest.summary.startswith("+ upstream catalog")
    assert newest.created_at >= oldest.created_at and newest.created_at.endswith("+00:00")
    loaded = store.load()
    assert loaded.table.version == 2 and loaded.table.routes[0].stage is Stage.SHADOW
    assert store.load(1).table.routes == ()


def test_committing_the_current_content_again_writes_nothing(store: RouteStore) -> None:
    store.commit(make_table(api_catalog="shadow"), expected_version=0, author="alice", reason="seed")
    again = store.commit(make_table(api_catalog="shadow"), expected_version=1, author="alice", reason="again")
    assert not again.changed and again.version == 1 and again.diff == []
    assert store.latest_version() == 1


def test_a_stale_writer_is_refused_and_changes_nothing(store: RouteStore) -> None:
    store.commit(make_table(), expected_version=0, author="alice", reason="seed")
    store.commit(make_table(api_catalog="shadow"), expected_version=1, author="alice", reason="shadow")
    with pytest.raises(StaleVersion) as caught:
        store.commit(make_table(api_catalog="live"), expected_version=1, author="bob", reason="go live")
    assert (caught.value.expected, caught.value.current) == (1, 2)
    assert "read it again" in str(caught.value)
    assert store.latest_version() == 2 and store.load().table.routes[0].stage is Stage.SHADOW


def test_of_two_concurrent_conflicting_writers_exactly_one_wins(store_url: str) -> None:
    with open_store(store_url) as seeder:
        seeder.commit(make_table(), expected_version=0, author="alice", reason="seed")
    barrier = threading.Barrier(8)
    outcomes: list[object] = []

    def write(i: int) -> None:
        writer = open_store(store_url)
        barrier.wait()
        try:
            outcomes.append(
                writer.commit(make_table(**{f"api_s{i}": "live"}), expected_version=1, author=f"w{i}", reason="race")
            )
        except StaleVersion as exc:
            outcomes.append(exc)
        finally:
            writer.close()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [o for o in outcomes if not isinstance(o, StaleVersion)]
    assert len(winners) == 1 and len(outcomes) == 8
    assert all(isinstance(o, StaleVersion) and o.current == 2 for o in outcomes if o not in winners)
    with open_store(store_url) as reader:
        assert reader.latest_version() == 2


def test_rollback_appends_a_version_equal_to_an_earlier_one(store: RouteStore) -> None:
    store.commit(make_table(), expected_version=0, author="alice", reason="seed")
    store.commit(make_table(api_catalog="shadow"), expected_version=1, author="alice", reason="shadow")
    store.commit(make_table(api_catalog="live"), expected_version=2, author="alice", reason="live")
    back = store.rollback(to_version=None, expected_version=3, author="bob", reason="errors on live")
    assert back.version == 4 and back.diff == ["~ route /api/catalog -> catalog: live -> shadow"]
    assert same_content(store.load(4).table, store.load(2).table)
    to_first = store.rollback(to_version=1, expected_version=4, author="bob", reason="abort")
    assert to_first.version == 5 and store.load().table.routes == ()
    assert [v.version for v in store.history()] == [5, 4, 3, 2, 1]
    assert store.history()[0].rollback_of == 1


def test_rollback_to_a_version_that_never_existed_changes_nothing(store: RouteStore) -> None:
    store.commit(make_table(), expected_version=0, author="alice", reason="seed")
    with pytest.raises(UnknownVersion, match="version 7 does not exist"):
        store.rollback(to_version=7, expected_version=1, author="bob", reason="oops")
    with pytest.raises(UnknownVersion):
        store.rollback(to_version=None, expected_version=1, author="bob", reason="nothing before the first")
    assert store.latest_version() == 1


def test_a_waiting_watcher_hears_of_a_commit_from_another_connection(store_url: str) -> None:
    watcher = open_store(store_url)
    writer = open_store(store_url)
    try:
        assert watcher.wait_for_change(0, timeout=0.05) == 0
        timer = threading.Timer(0.2, lambda: writer.commit(make_table(), expected_version=0, author="a", reason="r"))
        timer.start()
        assert watcher.wait_for_change(0, timeout=5) == 1
        timer.join()
    finally:
        watcher.close()
        writer.close()


def test_snapshots_are_stored_as_plain_json(sqlite_url: str) -> None:
    import sqlite3

    with open_store(sqlite_url) as store:
        store.commit(make_table(api_catalog="shadow"), expected_version=0, author="a", reason="r")
    (snapshot,) = sqlite3.connect(sqlite_url).execute("select snapshot from strangler_route_versions").fetchone()
    assert json.loads(snapshot)["routes"][0]["path"] == "/api/catalog"


def test_a_version_whose_notification_was_lost_is_found_by_the_poll(fresh_postgres_url: str) -> None:
    import psycopg

    watcher = open_store(fresh_postgres_url)
    try:
        watcher.commit(make_table(), expected_version=0, author="a", reason="seed")
        assert watcher.wait_for_change(0, timeout=1) == 1
        with psycopg.connect(fresh_postgres_url, autocommit=True) as conn:  # a write that sends no NOTIFY
            conn.execute(
                "insert into strangler_route_versions (version, author, reason, summary, snapshot) "
                "select 2, 'b', 'r', 's', snapshot from strangler_route_versions where version = 1"
            )
        assert watcher.wait_for_change(1, timeout=0.3) == 2
    finally:
        watcher.close()


def test_a_store_whose_connection_was_killed_reconnects_on_next_use(fresh_postgres_url: str) -> None:
    import psycopg

    store = open_store(fresh_postgres_url)
    try:
        store.commit(make_table(), expected_version=0, author="a", reason="seed")
        with psycopg.connect(fresh_postgres_url, autocommit=True) as conn:
            killed = conn.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity "
                "where application_name = 'strangler-proxy' and datname = current_database()"
            ).fetchall()
        assert (True,) in killed
        assert store.latest_version() == 1
        assert store.commit(make_table(api_x="live"), expected_version=1, author="a", reason="r").version == 2
    finally:
        store.close()


def test_an_unreachable_postgresql_store_is_named_without_its_password() -> None:
    with pytest.raises(StoreUnavailable) as caught:
        open_store("postgresql://strangler:hunter2@127.0.0.1:1/routes")
    assert "cannot connect to the PostgreSQL route store" in str(caught.value)
    assert "hunter2" not in str(caught.value) and "***" in str(caught.value)
