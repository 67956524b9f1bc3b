from __future__ import annotations

from pathlib import Path

import pytest

from strangler_playbook.backfill.backfill import run_backfill
from strangler_playbook.database.context import open_context
from strangler_playbook.handover.publish import data_state
from strangler_playbook.spec.spec import load_spec
from strangler_playbook.sync.status import read_status
from strangler_playbook.verify.verify import run_verify

import catalog_fixture


@pytest.mark.parametrize(("source_engine", "target_engine"), [("pg", "pg"), ("sqlite", "pg"), ("pg", "sqlite")])
def test_verify_narrows_differences_down_to_the_exact_missing_extra_and_different_keys(
    make_db, spec_path: Path, source_engine: str, target_engine: str
) -> None:
    source, target = make_db(source_engine), make_db(target_engine)
    for url in (source, target):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(source, products=5000)
    spec = load_spec(spec_path)
    with open_context(spec, source, target) as ctx:
        run_backfill(ctx)
    # Behind the engine's back: a lost row, a stray row, and changes of one value of several kinds.
    stamp = "'2030-01-01 00:00:00.000001'"
    catalog_fixture.execute(
        target,
        "DELETE FROM catalog_product WHERE id = 1234",
        "INSERT INTO catalog_product SELECT 77777, 'X', name, 'x-slug', description, price, currency, active, "
        "category_id, created_at, updated_at FROM catalog_product WHERE id = 1",
        "UPDATE catalog_product SET price = price + 0.01 WHERE id = 2000",
        f"UPDATE catalog_product SET updated_at = {stamp} WHERE id = 3001",
        "UPDATE catalog_product SET active = NOT active WHERE id = 4999",
        "UPDATE catalog_product SET description = description || ' ' WHERE id = 5000",
        "UPDATE catalog_category SET parent_id = NULL WHERE id = 9",
    )
    with open_context(spec, source, target) as ctx:
        report = run_verify(ctx, range_rows=1000)
        one_side_at_a_time = run_verify(ctx, range_rows=1000, concurrent=False)
    products = report.tables[1].as_dict()
    assert one_side_at_a_time.tables[1].as_dict() | {"seconds": 0} == products | {"seconds": 0}
    assert not report.clean
    assert products["missing"] == [[1234]]
    assert products["extra"] == [[77777]]
    assert products["different"] == [[2000], [3001], [4999], [5000]]
    assert report.tables[0].as_dict()["different"] == [[9]]
    assert products["source_rows"] == 5000 and products["target_rows"] == 5000


def test_verify_records_its_result_for_status(make_sqlite, spec_path: Path) -> None:
    source, target = make_sqlite(), make_sqlite()
    for url in (source, target):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(source, products=50)
    with open_context(load_spec(spec_path), source, target) as ctx:
        run_backfill(ctx)
        assert run_verify(ctx).clean
        last_verify = read_status(ctx)["last_verify"]
        assert last_verify["clean"] is True
        state = data_state(ctx)
        assert (state.spec, state.phase, state.lag_s, state.last_verify_clean) == ("catalog", "backfilled", 0.0, True)
        assert state.verified_at == last_verify["at"]


def test_verify_of_an_empty_target_lists_every_source_key_as_missing(make_sqlite, spec_path: Path) -> None:
    source, target = make_sqlite(), make_sqlite()
    for url in (source, target):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(source, products=3000)
    with open_context(load_spec(spec_path), source, target) as ctx:
        report = run_verify(ctx, range_rows=1000)
    products = report.tables[1]
    assert products.missing == [(i,) for i in range(1, 3001)]
    assert products.extra == [] and products.different == []
