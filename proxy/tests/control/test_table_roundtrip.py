"""Any table the rules accept survives plain data, TOML and the store unchanged, and diffs to nothing with itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strangler_proxy.control.routes_toml import dump_routes_toml, read_routes_text
from strangler_proxy.control.store import open_store
from strangler_proxy.control.table_codec import same_content, table_from_dict, table_to_dict
from strangler_proxy.control.table_diff import diff_tables

NAMES = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True)
SEGMENTS = st.one_of(st.from_regex(r"[A-Za-z0-9_~-]{1,6}", fullmatch=True), st.just("{id}"), st.just("v2.1"))
METHODS = st.one_of(st.none(), st.sets(st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE"]), min_size=1))


@st.composite
def tables(draw: st.DrawFn) -> dict[str, Any]:
    services = draw(st.lists(NAMES.filter(lambda n: n != "monolith"), max_size=3, unique=True))
    upstreams: dict[str, Any] = {"monolith": {"url": "http://127.0.0.1:8000"}}
    for i, name in enumerate(services):
        upstreams[name] = {
            "url": f"http://svc{i}.internal:{draw(st.integers(1, 65535))}",
            "read_timeout": draw(st.sampled_from([0.5, 30.0, 120.0])),
            "max_connections": draw(st.integers(1, 512)),
        }
    paths = draw(st.lists(st.lists(SEGMENTS, min_size=1, max_size=4), max_size=6, unique_by=lambda s: "/".join(s)))
    routes = []
    for segments in paths:
        if segments.count("{id}") > 1:
            continue
        stage = draw(st.sampled_from(["off", "shadow", "canary", "live"]))
        route: dict[str, Any] = {
            "path": "/" + "/".join(segments),
            "service": draw(st.sampled_from([*services, "monolith"])),
            "stage": stage,
            "percent": draw(st.integers(0, 100)) if stage == "canary" else 0,
            "methods": sorted(m) if (m := draw(METHODS)) else None,
            "sticky": draw(st.sampled_from(["client", "cookie:sessionid", "header:x-user"])),
            "pin_seconds": draw(st.sampled_from([0, 2.5, 5])),
        }
        routes.append(route)
    return {"upstreams": upstreams, "routes": routes}


@settings(max_examples=150, deadline=None)
@given(tables())
def test_a_valid_table_round_trips_through_plain_data_and_toml(data: dict[str, Any]) -> None:
    table = table_from_dict(data)
    assert table_from_dict(table_to_dict(table)) == table
    from_toml = table_from_dict(read_routes_text(dump_routes_toml(table)))
    assert same_content(from_toml, table)
    assert diff_tables(table, from_toml) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tables())
def test_a_stored_table_loads_back_equal(tmp_path: Path, data: dict[str, Any]) -> None:
    table = table_from_dict(data)
    with open_store(str(tmp_path / "roundtrip.sqlite3")) as store:
        committed = store.commit(table, expected_version=store.latest_version(), author="h", reason="r")
        assert same_content(store.load(committed.version).table, table)
