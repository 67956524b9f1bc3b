from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from strangler_playbook.backfill.backfill import run_backfill
from strangler_playbook.capture.triggers import capture_installed, install_capture, uninstall_capture
from strangler_playbook.database.context import open_context
from strangler_playbook.errors import StateError
from strangler_playbook.spec.spec import load_spec
from strangler_playbook.sync.sync import run_sync
from strangler_playbook.verify.verify import run_verify

import catalog_fixture


def test_sync_applies_inserts_updates_and_deletes_made_after_the_backfill(
    catalog_pair: tuple[str, str], spec_path: Path
) -> None:
    source, target = catalog_pair
    spec = load_spec(spec_path)
    with open_context(spec, source, target) as ctx:
        run_backfill(ctx)
    yes = "true" if catalog_fixture.is_pg(source) else "1"
    catalog_fixture.execute(
        source,
        "UPDATE catalog_product SET price = 12.50, name = 'renamed' WHERE id = 5",
        "DELETE FROM catalog_product WHERE id = 6",
        "INSERT INTO catalog_product (id, sku, name, slug, description, price, currency, active, category_id, "
        f"created_at, updated_at) VALUES (90001, 'NEW-1', 'new', 'new-1', '', 1.05, 'EUR', {yes}, 3, "
        "'2025-03-04 05:06:07.123456', '2025-03-04 05:06:07')",
        "UPDATE catalog_product SET id = 90002, slug = 'moved' WHERE id = 7",
        "UPDATE catalog_category SET name = 'Shoes' WHERE id = 2",
    )
    with open_context(spec, source, target) as ctx:
        result = run_sync(ctx)
        report = run_verify(ctx)
    assert result.applied == 6  # update, delete, insert, key change (insert + delete), category update
    assert report.clean, report.as_dict()
    assert catalog_fixture.fetch(target, "SELECT name FROM catalog_product WHERE id = 5") == [("renamed",)]
    assert catalog_fixture.fetch(target, "SELECT count(*) FROM catalog_product WHERE id IN (6, 7)") == [(0,)]
    assert catalog_fixture.fetch(target, "SELECT slug FROM catalog_product WHERE id IN (90001, 90002) ORDER BY id") == [
        ("new-1",),
        ("moved",),
    ]


def test_sync_does_not_skip_a_change_whose_transaction_commits_after_a_later_one(make_pg, spec_path: Path) -> None:
    """Changelog id 1 is taken by a transaction that commits after the one holding id 2 was applied."""
    source, target = make_pg(), make_pg()
    for url in (source, target):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(source, products=20)
    spec = load_spec(spec_path)
    with open_context(spec, source, target) as ctx:
        run_backfill(ctx)
    slow = psycopg.connect(source)  # not autocommit: stays open
    slow.execute("UPDATE catalog_product SET name = 'slow' WHERE id = 1")
    catalog_fixture.execute(source, "UPDATE catalog_product SET name = 'fast' WHERE id = 2")
    ids = catalog_fixture.fetch(source, "SELECT id, pk FROM _strangler_catalog_changelog ORDER BY id")
    assert [pk for _, pk in ids] == ["[2]"]  # the slow transaction's entry is invisible to others...
    own = slow.execute("SELECT id FROM _strangler_catalog_changelog WHERE pk = '[1]'").fetchone()
    assert own is not None and own[0] < ids[0][0]  # ...and has the lower id
    with open_context(spec, source, target) as ctx:
        assert run_sync(ctx).applied == 1
        slow.commit()
        slow.close()
        assert run_sync(ctx).applied == 1
        assert run_verify(ctx).clean
    names = catalog_fixture.fetch(target, "SELECT name FROM catalog_product WHERE id IN (1, 2) ORDER BY id")
    assert names == [("slow",), ("fast",)]


def test_sync_refuses_to_run_before_the_backfill_has_finished(make_sqlite, spec_path: Path) -> None:
    source, target = make_sqlite(), make_sqlite()
    for url in (source, target):
        catalog_fixture.create_schema(url)
    with open_context(load_spec(spec_path), source, target) as ctx, pytest.raises(StateError, match="backfill"):
        run_sync(ctx)


@pytest.mark.parametrize(("monolith_engine", "service_engine"), [("sqlite", "pg"), ("pg", "pg")])
def test_reverse_sync_carries_service_writes_back_to_the_monolith(
    make_db, spec_path: Path, monolith_engine: str, service_engine: str
) -> None:
    monolith, service = make_db(monolith_engine), make_db(service_engine)
    for url in (monolith, service):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(monolith, products=200)
    spec = load_spec(spec_path)
    with open_context(spec, monolith, service) as ctx:
        run_backfill(ctx)
        run_sync(ctx)
    # Cutover: both sides verified equal, the service becomes the system of record, reverse capture starts now.
    with open_context(spec, service, monolith, reverse=True) as ctx:
        assert run_verify(ctx).clean
        assert run_backfill(ctx, capture_only=True).rows == 0
    catalog_fixture.execute(
        service,
        "UPDATE catalog_product SET price = 99.99 WHERE id = 10",
        "DELETE FROM catalog_product WHERE id = 11",
    )
    with open_context(spec, service, monolith, reverse=True) as ctx:
        assert run_sync(ctx).applied == 2
        assert run_verify(ctx).clean
    assert catalog_fixture.fetch(monolith, "SELECT count(*) FROM catalog_product WHERE id = 11") == [(0,)]
    assert float(catalog_fixture.fetch(monolith, "SELECT price FROM catalog_product WHERE id = 10")[0][0]) == 99.99


def test_a_row_updated_out_of_the_filter_is_removed_from_the_target(make_sqlite, tmp_path: Path) -> None:
    source, target = make_sqlite(), make_sqlite()
    for url in (source, target):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(source, products=100)
    spec = load_spec(
        catalog_fixture.write_spec(
            tmp_path,
            'name = "catalog"\n[[tables]]\nsource = "catalog_product"\nfilter = "active = 1"\n',
        )
    )
    active = catalog_fixture.fetch(source, "SELECT min(id) FROM catalog_product WHERE active = 1")[0][0]
    with open_context(spec, source, target) as ctx:
        run_backfill(ctx)
        assert catalog_fixture.fetch(target, "SELECT count(*) FROM catalog_product WHERE active = 0") == [(0,)]
        catalog_fixture.execute(source, f"UPDATE catalog_product SET active = 0 WHERE id = {active}")
        run_sync(ctx)
        assert run_verify(ctx).clean
    assert catalog_fixture.fetch(target, f"SELECT count(*) FROM catalog_product WHERE id = {active}") == [(0,)]


def test_a_second_engine_process_on_the_same_spec_is_refused_while_the_first_runs(make_pg, spec_path: Path) -> None:
    source, target = make_pg(), make_pg()
    for url in (source, target):
        catalog_fixture.create_schema(url)
    spec = load_spec(spec_path)
    with open_context(spec, source, target, exclusive=True):
        with (
            pytest.raises(StateError, match="another engine process is running for catalog"),
            open_context(spec, source, target, exclusive=True, lock_wait_s=0.2),
        ):
            pass
        with open_context(spec, source, target, exclusive=True, reverse=True, lock_wait_s=0.2):
            pass  # the other direction is a different lock


@pytest.mark.parametrize("engine", ["sqlite", "pg"])
def test_uninstalling_capture_leaves_no_trigger_function_or_changelog_behind(
    make_db, spec_path: Path, engine: str
) -> None:
    source, target = make_db(engine), make_db(engine)
    for url in (source, target):
        catalog_fixture.create_schema(url)
    tables = ["catalog_category", "catalog_product"]
    with open_context(load_spec(spec_path), source, target) as ctx:
        install_capture(ctx.source, "catalog", ctx.tables)
        assert capture_installed(ctx.source, "catalog", tables) == dict.fromkeys(tables, True)
        uninstall_capture(ctx.source, "catalog", tables)
        assert capture_installed(ctx.source, "catalog", tables) == dict.fromkeys(tables, False)
    if engine == "pg":
        leftovers = catalog_fixture.fetch(
            source,
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal UNION ALL "
            "SELECT proname FROM pg_proc WHERE proname LIKE '\\_strangler%' UNION ALL "
            "SELECT relname FROM pg_class WHERE relname LIKE '\\_strangler%'",
        )
    else:
        leftovers = catalog_fixture.fetch(
            source, "SELECT name FROM sqlite_master WHERE name LIKE '\\_strangler%' ESCAPE '\\'"
        )
    assert leftovers == []
    catalog_fixture.execute(source, "DELETE FROM catalog_product")  # and the tables still take writes


def test_a_following_sync_reconnects_after_its_sessions_are_killed_and_keeps_applying(make_pg, spec_path: Path) -> None:
    source, target = make_pg(), make_pg()
    for url in (source, target):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(source, products=50)
    with open_context(load_spec(spec_path), source, target) as ctx:
        run_backfill(ctx)
    sync = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "strangler_playbook",
            "sync",
            str(spec_path),
            "--source",
            source,
            "--target",
            target,
            "--json",
            "--follow",
            "--poll",
            "0.05",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        databases = [url.rsplit("/", 1)[1] for url in (source, target)]
        sessions = (
            "SELECT count(DISTINCT datname) FROM pg_stat_activity "
            f"WHERE datname IN ('{databases[0]}', '{databases[1]}') AND pid <> pg_backend_pid()"
        )
        deadline = time.monotonic() + 30
        while catalog_fixture.fetch(source, sessions) != [(2,)]:  # the engine is connected to both databases
            assert time.monotonic() < deadline and sync.poll() is None, "the sync never connected to both databases"
            time.sleep(0.05)
        catalog_fixture.execute(  # what a restart of both servers does to the engine's sessions
            source,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname IN ('{databases[0]}', '{databases[1]}') AND pid <> pg_backend_pid()",
        )
        catalog_fixture.execute(source, "UPDATE catalog_product SET name = 'after the restart' WHERE id = 3")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if catalog_fixture.fetch(target, "SELECT name FROM catalog_product WHERE id = 3") == [
                ("after the restart",)
            ]:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the change made after the restart never arrived")
        assert sync.poll() is None
    finally:
        sync.send_signal(signal.SIGTERM)
        out, err = sync.communicate(timeout=20)
    assert sync.returncode == 0, err
    assert "reconnecting" in err
    assert json.loads(out)["applied"] >= 1


@pytest.mark.parametrize("target_engine", ["pg", "sqlite"])
def test_a_truncate_of_a_source_table_reaches_the_target(make_db, spec_path: Path, target_engine: str) -> None:
    source, target = make_db("pg"), make_db(target_engine)
    for url in (source, target):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(source, products=300)
    spec = load_spec(spec_path)
    with open_context(spec, source, target) as ctx:
        run_backfill(ctx)
        catalog_fixture.execute(
            source,
            "TRUNCATE catalog_product",
            "INSERT INTO catalog_product (id, sku, name, slug, description, price, currency, active, category_id, "
            "created_at, updated_at) VALUES (7, 'S7', 'again', 's7', '', 1, 'EUR', true, 1, now(), now())",
        )
        run_sync(ctx)
        assert run_verify(ctx).clean
    assert catalog_fixture.fetch(target, "SELECT id, name FROM catalog_product") == [(7, "again")]
