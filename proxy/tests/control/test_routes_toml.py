"""Routes as code: the TOML form reads into the same table the API takes, and writes back without noise."""

from __future__ import annotations

from pathlib import Path

import pytest
from strangler_proxy.control.routes_toml import dump_routes_toml, load_routes_file, read_routes_text
from strangler_proxy.control.table_codec import same_content, table_from_dict
from strangler_proxy.dataplane.model import Stage, StickyKey
from strangler_proxy.errors import RoutesFileError, TableInvalid

EXAMPLE = """
[upstreams.monolith]
url = "http://127.0.0.1:8000"

[upstreams.catalog]
url = "http://127.0.0.1:8001"
read_timeout = 10

[[routes]]
path = "/api/catalog"
service = "catalog"
stage = "canary"
percent = 10
methods = ["GET", "HEAD"]
sticky = "cookie:sessionid"

[[routes]]
path = "/api/orders/{id}/reviews"
service = "catalog"
stage = "shadow"
"""


def test_a_routes_file_reads_into_a_table(tmp_path: Path) -> None:
    path = tmp_path / "routes.toml"
    path.write_text(EXAMPLE)
    table = load_routes_file(path)
    canary, shadow = table.routes
    assert (canary.stage, canary.percent, canary.sticky) == (Stage.CANARY, 10, StickyKey("cookie", "sessionid"))
    assert canary.methods == {"GET", "HEAD"} and shadow.path == "/api/orders/{id}/reviews"
    assert table.upstreams["catalog"].read_timeout == 10 and table.upstreams["catalog"].connect_timeout == 1.0


def test_the_written_form_leaves_defaults_out_and_reads_back_the_same() -> None:
    table = table_from_dict(read_routes_text(EXAMPLE))
    text = dump_routes_toml(table)
    assert "connect_timeout" not in text and "mirror_unsafe" not in text and "pin_seconds" not in text
    assert "read_timeout = 10" in text and 'sticky = "cookie:sessionid"' in text
    assert same_content(table_from_dict(read_routes_text(text)), table)


def test_broken_toml_is_refused_with_the_line() -> None:
    with pytest.raises(RoutesFileError, match=r"routes.toml is not valid TOML: .*line 3"):
        read_routes_text('[[routes]]\npath = "/a"\nstage = live\n', source="routes.toml")


def test_a_typo_in_a_key_is_an_error_not_a_silent_default() -> None:
    with pytest.raises(TableInvalid) as caught:
        table_from_dict(read_routes_text(EXAMPLE.replace("percent = 10", "percnt = 10")))
    assert [p.field for p in caught.value.problems] == ["routes[0].percnt"]


def test_an_unreadable_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(RoutesFileError, match="cannot read"):
        load_routes_file(tmp_path / "missing.toml")
