from __future__ import annotations

import json
from pathlib import Path

import pytest

from strangler_playbook.backfill.backfill import run_backfill
from strangler_playbook.backfill.index_deferral import deferrable_indexes, parallel_builds
from strangler_playbook.backfill.plan import make_plan
from strangler_playbook.backfill.progress import SilentReporter
from strangler_playbook.database.connection import connect
from strangler_playbook.database.context import open_context
from strangler_playbook.errors import StateError
from strangler_playbook.spec.spec import load_spec
from strangler_playbook.sync.sync import run_sync
from strangler_playbook.verify.verify import run_verify

import catalog_fixture


def count(url: str, table: str) -> int:
    conn = catalog_fixture.connect(url)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def test_backfill_copies_every_row_and_verify_finds_them_equal(catalog_pair: tuple[str, str], spec_path: Path) -> None:
    source, target = catalog_pair
    spec = load_spec(spec_path)
    with open_context(spec, source, target) as ctx:
        result = run_backfill(ctx, chunk_rows=700)
        report = run_verify(ctx, range_rows=500)
    assert result.rows == 3012
    assert count(target, "catalog_product") == 3000
    assert count(target, "catalog_category") == 12
    assert report.clean, report.as_dict()
    assert report.tables[1].source_rows == report.tables[1].target_rows == 3000


def test_backfill_between_postgres_databases_rebuilds_the_indexes_it_dropped(make_pg, spec_path: Path) -> None:
    source, target = make_pg(), make_pg()
    for url in (source, target):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(source, products=500)
    indexes_sql = "SELECT indexname FROM pg_indexes WHERE tablename = 'catalog_product' ORDER BY 1"
    conn = catalog_fixture.connect(target)
    before = conn.execute(indexes_sql).fetchall()
    with open_context(load_spec(spec_path), source, target) as ctx:
        result = run_backfill(ctx, chunk_rows=100)
    assert [t.mode for t in result.tables] == ["copy", "copy"]
    assert conn.execute(indexes_sql).fetchall() == before
    conn.close()


class Crash(Exception):
    pass


class CrashAfter(SilentReporter):
    """Stops the backfill as a kill would, after some chunks have committed."""

    def __init__(self, chunks: int) -> None:
        self.left = chunks

    def advance(self, rows: int) -> None:
        self.left -= 1
        if self.left == 0:
            raise Crash


@pytest.mark.parametrize("engine", ["sqlite", "pg"])
def test_backfill_resumes_after_its_last_committed_chunk_without_duplicates(
    make_db, spec_path: Path, engine: str
) -> None:
    source, target = make_db(engine), make_db(engine)
    for url in (source, target):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(source, products=1000)
    spec = load_spec(spec_path)
    with open_context(spec, source, target) as ctx, pytest.raises(Crash):
        run_backfill(ctx, chunk_rows=150, reporter=CrashAfter(3))
    assert count(target, "catalog_product") == 300
    with open_context(spec, source, target) as ctx:
        assert "catalog_product: resume backfill after key [300] (300 rows copied)" in make_plan(ctx)["steps"]
        result = run_backfill(ctx, chunk_rows=150)
        assert result.resumed
        assert run_verify(ctx).clean
    assert result.tables[1].rows == 700
    assert count(target, "catalog_product") == 1000


def test_a_copy_in_key_ranges_at_once_resumes_each_after_its_own_last_chunk(make_pg, spec_path: Path) -> None:
    source, target = make_pg(), make_pg()
    for url in (source, target):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(source, products=1000)
    spec = load_spec(spec_path)
    with open_context(spec, source, target) as ctx, pytest.raises(Crash):
        run_backfill(ctx, chunk_rows=100, lanes=3, reporter=CrashAfter(5))
    copied = count(target, "catalog_product")
    assert 0 < copied < 1000
    lanes = catalog_fixture.fetch(
        target, "SELECT value FROM _strangler_state WHERE name LIKE 'catalog/forward/backfill/catalog_product/lane/%'"
    )
    # Each lane's checkpoint commits with its chunk: together they hold exactly the rows the target holds.
    assert 1 <= len(lanes) <= 3 and sum(json.loads(v)["rows"] for (v,) in lanes) == copied
    with open_context(spec, source, target) as ctx:
        assert f"resume backfill in 3 key ranges at once, each after its last chunk ({copied} rows copied)" in str(
            make_plan(ctx)["steps"]
        )
        result = run_backfill(ctx, chunk_rows=100)  # a chunk copied twice would break the primary key
        assert result.resumed
        assert run_verify(ctx).clean
    assert result.tables[1].rows == 1000 - copied
    assert count(target, "catalog_product") == 1000
    indexes = "SELECT indexname FROM pg_indexes WHERE tablename = 'catalog_product' ORDER BY 1"
    assert catalog_fixture.fetch(target, indexes) == catalog_fixture.fetch(source, indexes)


def test_index_builds_run_at_once_and_again_after_a_kill(make_pg, spec_path: Path) -> None:
    """Unique constraints are built as their indexes, attached after; every build may run again (IF NOT EXISTS)."""
    builds, finish = parallel_builds(
        [
            'ALTER TABLE "catalog_product" ADD CONSTRAINT "catalog_product_sku_key" UNIQUE (sku)',
            'CREATE INDEX "catalog_product_price_idx" ON public.catalog_product USING btree (price)',
            'ALTER TABLE "t" ADD CONSTRAINT "t_excl" EXCLUDE USING gist (c WITH &&)',
        ]
    )
    assert builds == [
        'CREATE UNIQUE INDEX IF NOT EXISTS "catalog_product_sku_key" ON "catalog_product" (sku)',
        'CREATE INDEX IF NOT EXISTS "catalog_product_price_idx" ON public.catalog_product USING btree (price)',
    ]
    assert finish == [
        'ALTER TABLE "catalog_product" ADD CONSTRAINT "catalog_product_sku_key" UNIQUE USING INDEX '
        '"catalog_product_sku_key"',
        'ALTER TABLE "t" ADD CONSTRAINT "t_excl" EXCLUDE USING gist (c WITH &&)',
    ]
    target = make_pg()
    catalog_fixture.create_schema(target)
    before = catalog_fixture.fetch(target, "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint ORDER BY 1")
    db = connect(target, role="target", for_writes=True)
    try:
        deferred = deferrable_indexes(db, "catalog_product")
        for index in deferred:
            db.execute(index.drop)
        builds, finish = parallel_builds([index.create for index in deferred])
        db.execute(builds[0])  # a run killed after its first build
        for statement in builds + finish:  # the resumed run
            db.execute(statement)
    finally:
        db.close()
    after = catalog_fixture.fetch(target, "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint ORDER BY 1")
    assert after == before


def test_backfill_refuses_a_target_that_already_has_rows_and_changes_nothing(make_sqlite, spec_path: Path) -> None:
    source, target = make_sqlite(), make_sqlite()
    for url in (source, target):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(source, products=10)
    catalog_fixture.seed(target, products=1)
    with open_context(load_spec(spec_path), source, target) as ctx, pytest.raises(StateError, match="already has rows"):
        run_backfill(ctx)
    conn = catalog_fixture.connect(source)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE name LIKE '_strangler%'")]
    conn.close()
    assert names == []
    assert count(target, "catalog_product") == 1


class WriteAfterFirstProductChunk(SilentReporter):
    def __init__(self, url: str, *statements: str) -> None:
        self.url, self.statements, self.done, self.table = url, statements, False, ""

    def start(self, label: str, total: int, done: int) -> None:
        self.table = label

    def advance(self, rows: int) -> None:
        if self.table == "catalog_product" and not self.done:
            self.done = True
            catalog_fixture.execute(self.url, "BEGIN", *self.statements, "COMMIT")


@pytest.mark.parametrize("engine", ["sqlite", "pg"])
def test_a_unique_value_moving_between_rows_during_the_load_does_not_break_the_backfill(
    make_db, spec_path: Path, engine: str
) -> None:
    """Row 1 is copied with slug product-1-0; then the slug moves to row 900, copied in a later chunk."""
    source, target = make_db(engine), make_db(engine)
    for url in (source, target):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(source, products=1000)
    mover = WriteAfterFirstProductChunk(
        source,
        "UPDATE catalog_product SET slug = 'moved-away' WHERE id = 1",
        "UPDATE catalog_product SET slug = 'product-1-0' WHERE id = 900",
    )
    with open_context(load_spec(spec_path), source, target) as ctx:
        run_backfill(ctx, chunk_rows=100, reporter=mover)
        assert mover.done
        run_sync(ctx)
        assert run_verify(ctx).clean
    assert catalog_fixture.fetch(target, "SELECT id FROM catalog_product WHERE slug = 'product-1-0'") == [(900,)]


def test_throttle_holds_the_copy_rate_under_its_limit(make_sqlite, spec_path: Path) -> None:
    source, target = make_sqlite(), make_sqlite()
    for url in (source, target):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(source, products=1500)
    with open_context(load_spec(spec_path), source, target) as ctx:
        result = run_backfill(ctx, chunk_rows=250, throttle_rows_per_s=2500)
    product = result.tables[1]
    assert product.rows == 1500
    assert product.rows / product.seconds <= 2500 * 1.05
    assert product.seconds >= 0.55


def test_postgres_tables_with_different_column_types_are_copied_as_text_and_compared_normalised(
    make_pg, spec_path: Path
) -> None:
    source, target = make_pg(), make_pg()
    catalog_fixture.create_schema(source)
    catalog_fixture.create_schema(target)
    catalog_fixture.seed(source, products=400)
    catalog_fixture.execute(
        target,
        "ALTER TABLE catalog_product ALTER COLUMN price TYPE numeric(14, 4)",
        "ALTER TABLE catalog_product ALTER COLUMN name TYPE text",
        "ALTER TABLE catalog_product ALTER COLUMN category_id TYPE integer",
    )
    with open_context(load_spec(spec_path), source, target) as ctx:
        run_backfill(ctx)
        assert run_verify(ctx).clean
        catalog_fixture.execute(target, "UPDATE catalog_product SET price = price + 0.0001 WHERE id = 7")
        assert run_verify(ctx).tables[1].different == [(7,)]
