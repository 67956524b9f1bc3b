from __future__ import annotations

from pathlib import Path

import pytest

from strangler_playbook.errors import SpecError
from strangler_playbook.spec.spec import load_spec

FULL = """
name = "catalog"
routes = ["/api/catalog/"]
hold_routes = ["/api/orders"]
source_url_env = "MONOLITH_DATABASE_URL"
target_url_env = "CATALOG_DATABASE_URL"

[[tables]]
source = "catalog_product"
target = "products"
key = ["id"]
columns = ["id", "title", "price", "seller_id"]
filter = "active"
external_ids = ["seller_id"]
rename = { title = "name" }
types = { price = "decimal(12,2)" }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


def test_it_loads_every_field_of_a_complete_spec(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, FULL))
    table = spec.tables[0]
    assert (spec.name, spec.routes, spec.source_url_env) == ("catalog", ("/api/catalog/",), "MONOLITH_DATABASE_URL")
    assert (table.source, table.target, table.key, table.filter) == ("catalog_product", "products", ("id",), "active")
    assert table.source_column("title") == "name"
    assert table.external_ids == ("seller_id",)
    assert spec.hold_routes == ("/api/orders",)


def test_reversing_a_spec_swaps_tables_renames_and_environment_and_drops_the_filter(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, FULL)).reversed()
    table = spec.tables[0]
    assert (table.source, table.target, table.filter) == ("products", "catalog_product", None)
    assert table.source_column("name") == "title"
    assert table.columns == ("id", "name", "price", "seller_id")
    assert spec.source_url_env == "CATALOG_DATABASE_URL"
    assert spec.hold_routes == ("/api/orders",)  # the same writes reach the tables in either direction


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "catalog"\n', "no [[tables]]"),
        ('name = "Catalog!"\n[[tables]]\nsource = "t"\n', "`name` must be a lowercase identifier"),
        ('name = "c"\n[[tables]]\nsource = "t; drop table x"\n', "plain SQL identifier"),
        ('name = "c"\n[[tables]]\nsource = "t"\nfilter = "1=1; delete from t"\n', "without `;`"),
        ('name = "c"\n[[tables]]\nsource = "t"\ncolumns = ["name"]\n', "key column id must be among `columns`"),
        ('name = "c"\n[[tables]]\nsource = "t"\n[[tables]]\nsource = "t"\n', "appears more than once"),
        ('name = "c"\n[[tables]]\nsource = "t"\ntypes = { price = "money!" }\n', "unknown column type"),
        ('name = "c"\nroutes = ["api"]\n[[tables]]\nsource = "t"\n', "paths starting with /"),
        ('name = "c"\nhold_routes = ["orders"]\n[[tables]]\nsource = "t"\n', "`hold_routes` must be a list of paths"),
        (
            'name = "c"\nroutes = ["/a/"]\nhold_routes = ["/a"]\n[[tables]]\nsource = "t"\n',
            "in `routes` and in `hold_routes`",
        ),
        ('name = "c"\ncolour = 1\n[[tables]]\nsource = "t"\n', "unknown key 'colour'"),
    ],
)
def test_it_rejects_a_bad_spec_saying_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_spec(write(tmp_path, text))


def test_a_missing_spec_file_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="does not exist"):
        load_spec(tmp_path / "nope.toml")
