"""The verify a handover takes before its hold, and the short one under it: together they still catch every row
that differs, whether it differed before the hold or changed since."""

from __future__ import annotations

from pathlib import Path

import pytest

from strangler_playbook.backfill.backfill import run_backfill
from strangler_playbook.database.context import open_context
from strangler_playbook.errors import DifferencesFound
from strangler_playbook.handover.verify_ahead import catch_up, keys_to_compare, verify_ahead
from strangler_playbook.spec.spec import load_spec
from strangler_playbook.sync.sync import drain
from strangler_playbook.verify.verify import require_clean

import catalog_fixture

ENGINES = ["sqlite", "pg"]


@pytest.fixture(params=ENGINES)
def synced(request: pytest.FixtureRequest, make_db, spec_path: Path) -> tuple[str, str, Path]:
    source, target = make_db(request.param), make_db(request.param)
    for url in (source, target):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(source, categories=5, products=2000)
    with open_context(load_spec(spec_path), source, target) as ctx:
        run_backfill(ctx)
    return source, target, spec_path


def test_rows_written_after_the_verify_ahead_are_the_only_ones_compared_under_the_hold(synced) -> None:
    source, target, spec_path = synced
    with open_context(load_spec(spec_path), source, target) as ctx:
        baseline = verify_ahead(ctx)
    assert baseline is not None and baseline.rows == 2005
    assert baseline.suspects == {"catalog_category": set(), "catalog_product": set()}
    catalog_fixture.execute(
        source,
        "UPDATE catalog_product SET price = price + 1 WHERE id IN (7, 1500)",
        "DELETE FROM catalog_product WHERE id = 33",
    )
    with open_context(load_spec(spec_path), source, target) as ctx:
        keys = keys_to_compare(ctx, baseline)
        drain(ctx)
        assert keys == {"catalog_category": set(), "catalog_product": {(7,), (1500,), (33,)}}
        assert "the 4 row(s) of the keys that changed" in require_clean(ctx, keys)


def test_a_catch_up_before_the_hold_keeps_every_key_changed_since_the_verify_ahead(synced) -> None:
    source, target, spec_path = synced
    with open_context(load_spec(spec_path), source, target) as ctx:
        baseline = verify_ahead(ctx)
        assert baseline is not None
        catalog_fixture.execute(source, "UPDATE catalog_product SET price = price + 1 WHERE id = 7")
        baseline = catch_up(ctx, baseline)  # applies id 7, prunes nothing
        catalog_fixture.execute(source, "DELETE FROM catalog_product WHERE id = 33")
        # A row the catch-up applied, then changed on the target behind the sync's back: still compared.
        catalog_fixture.execute(target, "UPDATE catalog_product SET price = price + 5 WHERE id = 7")
        keys = keys_to_compare(ctx, baseline)
        assert keys == {"catalog_category": set(), "catalog_product": {(7,), (33,)}}
        drain(ctx)
        with pytest.raises(DifferencesFound, match="7"):
            require_clean(ctx, keys)


def test_a_row_that_differed_ahead_of_the_hold_still_fails_the_verify_under_it(synced) -> None:
    source, target, spec_path = synced
    catalog_fixture.execute(target, "UPDATE catalog_product SET price = price + 1 WHERE id = 1234")
    with open_context(load_spec(spec_path), source, target) as ctx:
        baseline = verify_ahead(ctx)
        assert baseline is not None and (1234,) in baseline.suspects["catalog_product"]
        keys = keys_to_compare(ctx, baseline)
        drain(ctx)
        with pytest.raises(DifferencesFound, match="1234"):
            require_clean(ctx, keys)


def test_a_change_the_sync_applied_meanwhile_makes_the_verify_under_the_hold_a_full_one(synced) -> None:
    source, target, spec_path = synced
    with open_context(load_spec(spec_path), source, target) as ctx:
        baseline = verify_ahead(ctx)
    catalog_fixture.execute(source, "UPDATE catalog_product SET price = price + 1 WHERE id = 5")
    with open_context(load_spec(spec_path), source, target) as ctx:
        drain(ctx)  # another sync moved the position: the changes since the baseline are gone from the changelog
        assert keys_to_compare(ctx, baseline) is None
        assert "2005 rows" in require_clean(ctx, None)


def test_a_truncate_since_the_verify_ahead_makes_the_verify_under_the_hold_a_full_one(make_pg, spec_path) -> None:
    source, target = make_pg(), make_pg()
    for url in (source, target):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(source, categories=2, products=20)
    with open_context(load_spec(spec_path), source, target) as ctx:
        run_backfill(ctx)
        baseline = verify_ahead(ctx)
    catalog_fixture.execute(source, "TRUNCATE catalog_product")
    with open_context(load_spec(spec_path), source, target) as ctx:
        assert keys_to_compare(ctx, baseline) is None
