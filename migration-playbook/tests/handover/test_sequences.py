from __future__ import annotations

from pathlib import Path

import pytest

from strangler_playbook.backfill.backfill import run_backfill
from strangler_playbook.database.context import open_context
from strangler_playbook.handover.sequences import realign_sequences
from strangler_playbook.spec.spec import load_spec

import catalog_fixture

INSERT = (
    "INSERT INTO catalog_product (sku, name, slug, description, price, currency, active, category_id, "
    "created_at, updated_at) VALUES ('S-NEW', 'n', 's-new', '', 1, 'EUR', {true}, 1, '2025-01-01', '2025-01-01') "
    "RETURNING id"
)


@pytest.mark.parametrize(("monolith_engine", "service_engine"), [("pg", "pg"), ("sqlite", "pg"), ("pg", "sqlite")])
def test_after_realigning_the_new_owner_hands_out_ids_no_side_has_used(
    make_db, spec_path: Path, monolith_engine: str, service_engine: str
) -> None:
    monolith, service = make_db(monolith_engine), make_db(service_engine)
    for url in (monolith, service):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(monolith, products=300)
    catalog_fixture.execute(monolith, "DELETE FROM catalog_product WHERE id > 250")  # ids 251-300 were used
    spec = load_spec(spec_path)
    with open_context(spec, monolith, service) as ctx:
        run_backfill(ctx)
        assert realign_sequences(ctx)["catalog_product"] == 300
    true = "true" if catalog_fixture.is_pg(service) else "1"
    assert catalog_fixture.fetch(service, INSERT.format(true=true)) == [(301,)]
