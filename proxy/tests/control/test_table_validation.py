"""Every bad route table is refused with a message that names the field and says what to write instead."""

from __future__ import annotations

from typing import Any

import pytest
from strangler_proxy.control.table_codec import table_from_dict, table_to_dict
from strangler_proxy.control.table_diff import diff_tables
from strangler_proxy.dataplane.model import Stage, StickyKey
from strangler_proxy.errors import TableInvalid


def table(*routes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "upstreams": {"monolith": {"url": "http://127.0.0.1:8000"}, "catalog": {"url": "http://127.0.0.1:8001/"}},
        "routes": list(routes),
        **extra,
    }


def route(**fields: Any) -> dict[str, Any]:
    return {"path": "/api/catalog", "service": "catalog", "stage": "shadow", **fields}


def test_a_good_table_round_trips_through_plain_data() -> None:
    parsed = table_from_dict(
        table(route(stage="canary", percent=10, methods=["get", "HEAD"], sticky="cookie:sessionid", pin_seconds=2))
    )
    (r,) = parsed.routes
    assert (r.stage, r.percent, r.methods, r.sticky) == (
        Stage.CANARY,
        10,
        {"GET", "HEAD"},
        StickyKey("cookie", "sessionid"),
    )
    assert parsed.upstreams["catalog"].url == "http://127.0.0.1:8001"
    assert table_from_dict(table_to_dict(parsed)) == parsed
    assert not r.forward_credentials and "forward_credentials" not in table_to_dict(parsed)["routes"][0]
    opted = table_from_dict(table(route(forward_credentials=True)))
    assert opted.routes[0].forward_credentials and table_from_dict(table_to_dict(opted)) == opted


BAD = [
    ("unknown service", table(route(service="orders")), "routes[0].service", "'orders' is not a known upstream"),
    (
        "percent without canary",
        table(route(stage="live", percent=50)),
        "routes[0].percent",
        "only applies to the canary",
    ),
    ("percent over 100", table(route(stage="canary", percent=101)), "routes[0].percent", "between 0 and 100"),
    ("percent negative", table(route(stage="canary", percent=-1)), "routes[0].percent", "between 0 and 100"),
    ("percent a string", table(route(stage="canary", percent="10")), "routes[0].percent", "whole number"),
    ("unknown stage", table(route(stage="half")), "routes[0].stage", "choose one of off, shadow, canary, live"),
    ("relative path", table(route(path="api/catalog")), "routes[0].path", "must start with /"),
    ("trailing slash", table(route(path="/api/catalog/")), "routes[0].path", "write '/api/catalog'"),
    ("double slash", table(route(path="/api//catalog")), "routes[0].path", "empty segment"),
    ("dot segment", table(route(path="/api/../admin")), "routes[0].path", "dot segment"),
    ("percent escape", table(route(path="/api/%2e%2e")), "routes[0].path", "percent-escape"),
    ("half a parameter", table(route(path="/api/x{id}")), "routes[0].path", "not allowed"),
    ("repeated parameter", table(route(path="/a/{id}/b/{id}")), "routes[0].path", "twice"),
    ("duplicate rule", table(route(), route(stage="live")), "routes[1]", "already claimed by routes[0]"),
    (
        "same shape under other parameter names",
        table(route(path="/o/{id}"), route(path="/o/{pk}")),
        "routes[1]",
        "already claimed",
    ),
    (
        "overlapping methods",
        table(route(methods=["GET", "POST"]), route(methods=["POST"])),
        "routes[1]",
        "for POST is already claimed",
    ),
    ("bad method", table(route(methods=["GET!"])), "routes[0].methods", "not HTTP methods"),
    ("empty methods", table(route(methods=[])), "routes[0].methods", "non-empty list"),
    (
        "cookie without name",
        table(route(sticky={"kind": "cookie"})),
        "routes[0].sticky.name",
        "needs the cookie's name",
    ),
    ("unknown sticky kind", table(route(sticky="ip")), "routes[0].sticky.kind", "not one of cookie, header, client"),
    ("typo in a route field", table(route(stag="live")), "routes[0].stag", "unknown field"),
    ("missing service", table({"path": "/a"}), "routes[0].service", "is required"),
    ("no monolith", {"upstreams": {"catalog": "http://c:1"}, "routes": []}, "default_upstream", "not a known upstream"),
    ("url with a path", table(upstreams={"monolith": "http://m:1/app"}), "upstreams.monolith.url", "no path"),
    ("ftp url", table(upstreams={"monolith": "ftp://m"}), "upstreams.monolith.url", "http:// or https://"),
    (
        "bad upstream name",
        {"upstreams": {"monolith": "http://m:1", "Cat Alog": "http://c:1"}},
        "upstreams.Cat Alog",
        "lowercase",
    ),
    (
        "zero timeout",
        table(upstreams={"monolith": {"url": "http://m:1", "read_timeout": 0}}),
        "upstreams.monolith.read_timeout",
        "between",
    ),
    ("not an object", [1, 2], "", "must be an object"),
    (
        "forward_credentials not a boolean",
        table(route(forward_credentials="yes")),
        "routes[0].forward_credentials",
        "true or false",
    ),
    (
        "forward_credentials to the monolith",
        table(route(service="monolith", forward_credentials=True)),
        "routes[0].forward_credentials",
        "always gets the client's credentials",
    ),
]


@pytest.mark.parametrize(("data", "field", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_table_is_refused_naming_the_field(data: Any, field: str, message: str) -> None:
    if "upstreams" in data and isinstance(data.get("upstreams"), dict) and "routes" not in data:
        data = {**data, "routes": []}
    with pytest.raises(TableInvalid) as caught:
        table_from_dict(data)
    assert any(p.field == field and message in p.message for p in caught.value.problems), caught.value.problems


def test_credentials_in_an_upstream_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(TableInvalid) as caught:
        table_from_dict(table(upstreams={"monolith": "http://user:hunter2@m:1"}))
    assert "hunter2" not in str(caught.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(TableInvalid) as caught:
        table_from_dict(table(route(stage="nope"), route(path="/b", service="ghost")))
    assert {p.field for p in caught.value.problems} == {"routes[0].stage", "routes[1].service"}


def test_the_diff_names_each_change_in_operator_terms() -> None:
    before = table_from_dict(table(route(), route(path="/api/old", stage="off")))
    after = table_from_dict(
        table(route(stage="canary", percent=25), route(path="/api/new", methods=["GET"]))
        | {"upstreams": {"monolith": "http://127.0.0.1:9000", "catalog": "http://127.0.0.1:8001"}}
    )
    assert diff_tables(before, after) == [
        "~ upstream monolith: url http://127.0.0.1:8000 -> http://127.0.0.1:9000",
        "- route /api/old (catalog, off)",
        "~ route /api/catalog -> catalog: shadow -> canary 25%",
        "+ route /api/new [GET] -> catalog (shadow)",
    ]
