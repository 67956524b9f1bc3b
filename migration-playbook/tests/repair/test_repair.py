"""`strangler data repair`: rows that differ although the sync caught up (writes that bypassed capture) get the owner's
version through the sync, exactly those rows, and verify is clean afterwards; verify's hint points to it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from strangler_playbook.backfill.backfill import run_backfill
from strangler_playbook.database.context import open_context
from strangler_playbook.spec.spec import load_spec

import catalog_fixture

ENGINE = (sys.executable, "-m", "strangler_playbook")
DRIFT = (
    "UPDATE catalog_product SET name = 'edited by hand in the service' WHERE id = 11",
    "DELETE FROM catalog_product WHERE id = 12",
    "UPDATE catalog_category SET name = 'renamed behind the sync' WHERE id = 2",
)


def data(command: str, spec: Path, source: str, target: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ENGINE, command, str(spec), "--source", source, "--target", target, *extra],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def drifted(make_db, spec_path: Path, engine: str) -> tuple[str, str]:
    source, target = make_db(engine), make_db(engine)
    for url in (source, target):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(source, products=300)
    with open_context(load_spec(spec_path), source, target) as ctx:
        run_backfill(ctx)
    catalog_fixture.execute(target, *DRIFT)
    extra = "INSERT INTO catalog_product SELECT 9999, 'X-9999', name, 'x-9999', description, price, currency, "
    catalog_fixture.execute(
        target, extra + "active, category_id, created_at, updated_at FROM catalog_product WHERE id = 1"
    )
    return source, target


def rows(url: str) -> list[tuple]:
    return catalog_fixture.fetch(
        url, "SELECT id, sku, name, price FROM catalog_product ORDER BY id"
    ) + catalog_fixture.fetch(url, "SELECT id, name FROM catalog_category ORDER BY id")


@pytest.mark.parametrize("engine", ["sqlite", "pg"])
def test_repair_gives_exactly_the_drifted_rows_the_owners_version_and_verify_is_clean(
    make_db, spec_path: Path, engine: str
) -> None:
    source, target = drifted(make_db, spec_path, engine)
    untouched = catalog_fixture.fetch(
        target, "SELECT id, updated_at FROM catalog_product WHERE id NOT IN (11, 12, 9999)"
    )
    verified = data("verify", spec_path, source, target)
    assert verified.returncode == 8 and "strangler data repair" in verified.stderr, verified.stderr

    repaired = data("repair", spec_path, source, target, "--json")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    result = json.loads(repaired.stdout)
    assert result["found"] == {
        "catalog_category": {"missing": [], "extra": [], "different": [[2]]},
        "catalog_product": {"missing": [[12]], "extra": [[9999]], "different": [[11]]},
    }
    assert result["applied_by"] == "this command's sync" and result["clean"] and result["owner"] == "monolith"
    assert rows(target) == rows(source)
    assert (
        catalog_fixture.fetch(target, "SELECT id, updated_at FROM catalog_product WHERE id NOT IN (11, 12, 9999)")
        == untouched
    )
    assert data("verify", spec_path, source, target).returncode == 0


def test_repair_leaves_the_applying_to_a_running_follower(make_sqlite, spec_path: Path) -> None:
    source, target = drifted(lambda engine: make_sqlite(), spec_path, "sqlite")
    follower = subprocess.Popen(
        [*ENGINE, "follow", str(spec_path), "--source", source, "--target", target, "--poll", "0.05"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not catalog_fixture.fetch(
            target, "SELECT count(*) FROM _strangler_state WHERE name = 'catalog/follower'"
        )[0][0]:
            assert time.monotonic() < deadline, "the follower never beat"
            time.sleep(0.05)
        repaired = data("repair", spec_path, source, target)
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        assert "applied by the running `strangler data follow`" in repaired.stdout
        assert "catalog_product: 1 missing, 1 extra, 1 different — now the monolith's version" in repaired.stdout
        assert rows(target) == rows(source)
    finally:
        follower.terminate()
        try:
            follower.wait(60)  # a follower backing off after a busy database sleeps before it sees SIGTERM
        except subprocess.TimeoutExpired:
            follower.kill()
            follower.wait()


def test_repair_before_the_backfill_is_refused_with_the_step_to_run_first(make_sqlite, spec_path: Path) -> None:
    source, target = make_sqlite(), make_sqlite()
    for url in (source, target):
        catalog_fixture.create_schema(url)
    refused = data("repair", spec_path, source, target)
    assert refused.returncode == 5 and "strangler data backfill" in refused.stderr
