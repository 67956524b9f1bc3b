from __future__ import annotations

import pytest
from strangler_proxy.dataplane.model import Route, RouteTable, Stage, StickyKey, Upstream
from strangler_proxy.dataplane.routing import Router, canonicalise
from strangler_proxy.dataplane.table_rules import validate_table
from strangler_proxy.errors import BadRequestPath, TableInvalid


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        (b"/", "/"),
        (b"/api/orders", "/api/orders"),
        (b"/api//orders///1", "/api/orders/1"),
        (b"/api/./orders/../catalog", "/api/catalog"),
        (b"/api/%2e%2E/catalog", "/catalog"),
        (b"/api/%2E/x", "/api/x"),
        (b"/api/orders/", "/api/orders/"),
        (b"/api/orders/..", "/api/"),
        (b"/api/orders/.", "/api/orders/"),
        (b"/%41%62c", "/Abc"),
        (b"/caf%c3%a9", "/caf%C3%A9"),
        (b"/caf\xc3\xa9", "/caf%C3%A9"),
        (b"/a%20b", "/a%20b"),
        (b"/a|b", "/a%7Cb"),
        (b"/.well-known/x", "/.well-known/x"),
        (b"/a/...", "/a/..."),
        (b"/a;b=c/d:e@f", "/a;b=c/d:e@f"),
    ],
)
def test_it_canonicalises_paths(raw: bytes, canonical: str) -> None:
    assert canonicalise(raw) == canonical
    assert canonicalise(canonical.encode()) == canonical  # a fixpoint


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"api/orders",
        b"/..",
        b"/a/../..",
        b"/%2e%2e/etc/passwd",
        b"/a%2fb",
        b"/a%2Fb",
        b"/a%5cb",
        b"/a\\b",
        b"/a%00b",
        b"/a%0d%0aX",
        b"/a%",
        b"/a%4",
        b"/a%zz",
        b"/a#frag",
        b"/a\x00b",
    ],
)
def test_it_rejects_paths_that_upstreams_could_read_differently(raw: bytes) -> None:
    with pytest.raises(BadRequestPath):
        canonicalise(raw)


def table(*routes: Route) -> RouteTable:
    ups = {n: Upstream(n, f"http://127.0.0.1:{9000 + i}") for i, n in enumerate(("monolith", "catalog", "orders"))}
    return RouteTable(version=1, upstreams=ups, routes=routes)


def matched(router: Router, method: str, path: str) -> str | None:
    m = router.match(method, path)
    return None if m is None else m.route.path


def test_a_prefix_matches_whole_segments_only() -> None:
    router = Router(table(Route("/api/v2", "catalog")))
    assert matched(router, "GET", "/api/v2") == "/api/v2"
    assert matched(router, "GET", "/api/v2/") == "/api/v2"
    assert matched(router, "GET", "/api/v2/items/1") == "/api/v2"
    assert matched(router, "GET", "/api/v2x") is None
    assert matched(router, "GET", "/api/v") is None
    assert matched(router, "GET", "/api") is None


def test_the_longest_prefix_wins_regardless_of_order() -> None:
    router = Router(table(Route("/api", "orders"), Route("/api/catalog", "catalog"), Route("/api/catalog/x", "orders")))
    assert matched(router, "GET", "/api/catalog/1") == "/api/catalog"
    assert matched(router, "GET", "/api/catalog/x/1") == "/api/catalog/x"
    assert matched(router, "GET", "/api/orders") == "/api"


def test_parameters_match_one_segment_and_literals_beat_parameters() -> None:
    router = Router(table(Route("/api/orders/{id}/reviews", "catalog"), Route("/api/orders/latest/reviews", "orders")))
    m = router.match("GET", "/api/orders/42/reviews/7")
    assert m is not None and m.route.path == "/api/orders/{id}/reviews" and m.params == {"id": "42"}
    assert matched(router, "GET", "/api/orders/latest/reviews") == "/api/orders/latest/reviews"
    assert matched(router, "GET", "/api/orders/42") is None
    assert matched(router, "GET", "/api/orders/42/reviewsx") is None


def test_methods_restrict_a_route_and_head_follows_get() -> None:
    router = Router(table(Route("/api/catalog", "catalog", methods=frozenset({"GET"})), Route("/api", "orders")))
    assert matched(router, "GET", "/api/catalog") == "/api/catalog"
    assert matched(router, "HEAD", "/api/catalog") == "/api/catalog"
    assert matched(router, "POST", "/api/catalog") == "/api"


def test_equal_rules_are_decided_by_order() -> None:
    router = Router(table(Route("/api/{a}", "catalog"), Route("/api/{b}", "orders")))
    m = router.match("GET", "/api/x")
    assert m is not None and m.route.service == "catalog"


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (Route("api", "catalog"), "must start with /"),
        (Route("/api/{id", "catalog"), "not allowed in a path segment"),
        (Route("/api/a{id}", "catalog"), "not allowed in a path segment"),
        (Route("/api/%2e", "catalog"), "write the decoded character"),
        (Route("/api/a%2fb", "catalog"), "has a percent-escape"),
        (Route("/api", "nowhere"), "not a known upstream"),
        (Route("/api", "catalog", percent=101), "between 0 and 100"),
        (Route("/api", "catalog", sticky=StickyKey("cookie", "")), "needs the cookie's name"),
        (Route("/api", "catalog", Stage.CANARY, pin_seconds=-1), "must not be negative"),
    ],
)
def test_it_refuses_a_table_it_cannot_serve(route: Route, message: str) -> None:
    with pytest.raises(TableInvalid, match=message):
        validate_table(table(route))


def test_it_refuses_a_default_upstream_that_does_not_exist() -> None:
    bad = RouteTable(version=1, upstreams={"catalog": Upstream("catalog", "http://x:1")}, routes=())
    with pytest.raises(TableInvalid, match="default_upstream"):
        validate_table(bad)


def test_it_refuses_an_upstream_url_with_a_path() -> None:
    bad = RouteTable(version=1, upstreams={"monolith": Upstream("monolith", "http://x:1/app")}, routes=())
    with pytest.raises(TableInvalid, match="no path"):
        validate_table(bad)
