"""One conformance suite, two data planes: every test here runs against the Python proxy and against real nginx
serving `strangler routes export --format nginx`, with the same upstreams and the same assertions."""

from __future__ import annotations

import http.client

from data_planes import NginxPlane, PythonPlane, Upstreams, free_port, wait_until
from strangler_proxy.dataplane.cohort import bucket, in_canary
from strangler_proxy.dataplane.model import Route, Stage, StickyKey
from strangler_proxy.edge.nginx_config import in_nginx_canary

pytest_plugins = ["edge_fixtures"]

Plane = PythonPlane | NginxPlane
CLIENTS = [f"client-{n}" for n in range(300)]


class Client:
    """One keep-alive connection that keeps the cookies it is given (a browser's jar, enough for one host)."""

    def __init__(self, plane: Plane) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", plane.port, timeout=10)
        self.cookies: dict[str, str] = {}

    def send(self, method: str, target: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = b"{}" if method in ("POST", "PUT", "PATCH") else None
        try:
            self.conn.request(method, target, body=body, headers=sent)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            # An idle keep-alive connection closed by the server (nginx's old workers after a reload close theirs):
            # like a browser, send an idempotent request again on a new connection.
            if method not in ("GET", "HEAD"):
                raise
            self.conn.close()
            self.conn.request(method, target, body=body, headers=sent)
            response = self.conn.getresponse()
        response.read()
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";")[0]
        return response

    def upstream(self, method: str, target: str, headers: dict[str, str] | None = None) -> str:
        response = self.send(method, target, headers)
        assert response.status == 200, (method, target, response.status)
        return response.headers["X-Upstream"]

    def close(self) -> None:
        self.conn.close()


def answered_by(plane: Plane, method: str, target: str, headers: dict[str, str] | None = None) -> str:
    client = Client(plane)
    try:
        return client.upstream(method, target, headers)
    finally:
        client.close()


def test_a_route_is_a_segment_prefix(plane: Plane, upstreams: Upstreams) -> None:
    plane.apply(upstreams.table(Route("/api/catalog", "catalog", Stage.LIVE)))
    for target in ("/api/catalog", "/api/catalog/", "/api/catalog/7", "/api/catalog/7/x?page=2"):
        assert answered_by(plane, "GET", target) == "catalog", target
    for target in ("/api/catalogue", "/api/catalog-old/1", "/api", "/"):
        assert answered_by(plane, "GET", target) == "monolith", target


def test_the_longest_prefix_wins_and_a_method_rule_falls_through(plane: Plane, upstreams: Upstreams) -> None:
    plane.apply(
        upstreams.table(
            Route("/api", "catalog", Stage.LIVE),
            Route("/api/catalog", "catalog", Stage.OFF),
            Route("/api/orders/{id}/reviews", "catalog", Stage.OFF, methods=frozenset({"POST"}), pin_seconds=0),
        )
    )
    assert answered_by(plane, "GET", "/api/catalog/3") == "monolith"
    assert answered_by(plane, "GET", "/api/customers") == "catalog"
    assert answered_by(plane, "POST", "/api/orders/7/reviews") == "monolith"
    assert answered_by(plane, "GET", "/api/orders/7/reviews") == "catalog"  # not the POST rule: /api takes it


def test_a_route_with_methods_takes_only_those_and_head_counts_as_get(plane: Plane, upstreams: Upstreams) -> None:
    plane.apply(upstreams.table(Route("/api/orders/{id}/reviews", "catalog", Stage.LIVE, methods=frozenset({"GET"}))))
    assert answered_by(plane, "GET", "/api/orders/7/reviews") == "catalog"
    assert answered_by(plane, "HEAD", "/api/orders/7/reviews") == "catalog"
    assert answered_by(plane, "POST", "/api/orders/7/reviews") == "monolith"
    assert answered_by(plane, "GET", "/api/orders/7") == "monolith"
    assert answered_by(plane, "GET", "/api/orders/7/reviewsx") == "monolith"


def test_each_stage_sends_reads_and_writes_where_the_proxy_does(plane: Plane, upstreams: Upstreams) -> None:
    expected = {
        (Stage.OFF, 0): ("monolith", "monolith"),
        (Stage.SHADOW, 0): ("monolith", "monolith"),
        (Stage.CANARY, 0): ("monolith", "monolith"),
        (Stage.CANARY, 100): ("catalog", "monolith"),
        (Stage.LIVE, 0): ("catalog", "catalog"),
    }
    for (stage, percent), (read, write) in expected.items():
        plane.apply(upstreams.table(Route("/api/catalog", "catalog", stage, percent=percent, pin_seconds=0)))
        assert answered_by(plane, "GET", "/api/catalog/1") == read, stage
        assert answered_by(plane, "POST", "/api/catalog/") == write, stage


def test_the_canary_share_holds_and_raising_it_keeps_every_client_on_the_service(
    plane: Plane, upstreams: Upstreams
) -> None:
    def cohort(percent: int) -> set[str]:
        sticky = StickyKey("header", "X-Client")
        plane.apply(upstreams.table(Route("/api/catalog", "catalog", Stage.CANARY, percent=percent, sticky=sticky)))
        client = Client(plane)
        try:
            return {c for c in CLIENTS if client.upstream("GET", "/api/catalog/1", {"X-Client": c}) == "catalog"}
        finally:
            client.close()

    at_20, at_50 = cohort(20), cohort(50)
    assert abs(len(at_20) / len(CLIENTS) - 0.20) < 0.07
    assert abs(len(at_50) / len(CLIENTS) - 0.50) < 0.08
    assert at_20 <= at_50, "raising the share moved clients back to the monolith"
    assert cohort(50) == at_50, "a client's side changed at the same share"
    # each data plane's cohort is exactly the one its documented hash gives (docs/edge.md)
    for c in CLIENTS:
        assert predicted(plane, f"header:{c}", 50) == (c in at_50), c


def test_a_cookie_keys_the_cohort_and_a_client_without_it_is_keyed_by_address(
    plane: Plane, upstreams: Upstreams
) -> None:
    sticky = StickyKey("cookie", "sessionid")
    plane.apply(upstreams.table(Route("/api/catalog", "catalog", Stage.CANARY, percent=50, sticky=sticky)))
    client = Client(plane)
    try:
        for c in CLIENTS[:100]:
            cookie = {"Cookie": f"csrftoken=x; sessionid={c}; theme=dark"}
            side = client.upstream("GET", "/api/catalog/1", cookie)
            assert (side == "catalog") == predicted(plane, f"cookie:{c}", 50), c
        side = client.upstream("GET", "/api/catalog/1")
        assert (side == "catalog") == predicted(plane, "client:127.0.0.1", 50)
    finally:
        client.close()


def predicted(plane: Plane, key: str, percent: int) -> bool:
    """The side the plane's documented hash puts this sticky key on (docs/edge.md)."""
    if plane.name == "nginx":
        return in_nginx_canary("catalog", key, percent)
    return in_canary(bucket(key, "catalog"), percent)


def test_a_client_that_wrote_reads_from_the_monolith_for_a_while(plane: Plane, upstreams: Upstreams) -> None:
    sticky = StickyKey("header", "X-Client")
    plane.apply(
        upstreams.table(Route("/api/catalog", "catalog", Stage.CANARY, percent=100, pin_seconds=30, sticky=sticky))
    )
    reader, writer = Client(plane), Client(plane)
    as_reader, as_writer = {"X-Client": "pin-reader"}, {"X-Client": "pin-writer"}
    try:
        assert reader.upstream("GET", "/api/catalog/1", as_reader) == "catalog"
        assert writer.upstream("POST", "/api/catalog/", as_writer) == "monolith"
        assert writer.upstream("GET", "/api/catalog/1", as_writer) == "monolith"
        assert reader.upstream("GET", "/api/catalog/1", as_reader) == "catalog"
    finally:
        reader.close()
        writer.close()


def test_shadow_mirrors_safe_requests_to_the_comparison_and_the_client_gets_the_monolith(
    plane: Plane, upstreams: Upstreams
) -> None:
    plane.apply(upstreams.table(Route("/api/catalog", "catalog", Stage.SHADOW)))
    assert answered_by(plane, "POST", "/api/catalog/", {"X-Request-Id": "conformance-write"}) == "monolith"
    assert answered_by(plane, "GET", "/api/catalog/5?q=1", {"X-Request-Id": "conformance-read"}) == "monolith"

    def compared() -> bool:
        return any(r.request.request_id == "conformance-read" for r in plane.shadow_results())

    wait_until(compared, what="the mirrored read to be compared")
    (result,) = [r for r in plane.shadow_results() if r.request.request_id == "conformance-read"]
    assert result.request.target == b"/api/catalog/5?q=1"
    assert result.primary.status == 200 and (b"x-upstream", b"monolith") in [
        (n.lower(), v) for n, v in result.primary.headers
    ]
    assert result.shadow is not None and (b"x-upstream", b"catalog") in [
        (n.lower(), v) for n, v in result.shadow.headers
    ]
    mirrored = [r for r in upstreams.catalog.received if r.header("x-strangler-shadow") == b"1"]
    assert [r.method for r in mirrored] == ["GET"]  # the write was never mirrored


def test_a_read_the_service_fails_is_answered_by_the_monolith_and_a_write_is_not(
    plane: Plane, upstreams: Upstreams
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    plane.apply(upstreams.table(Route("/api/catalog", "catalog", Stage.LIVE), catalog_url=dead))
    assert answered_by(plane, "GET", "/api/catalog/1") == "monolith"
    client = Client(plane)
    try:
        response = client.send("POST", "/api/catalog/")  # the write went to the dead service: not sent elsewhere
        assert response.status == 502
        assert response.headers["Content-Type"] == "application/json"
    finally:
        client.close()
    assert [r.method for r in upstreams.monolith.received] == ["GET"]
    plane.apply(upstreams.table(Route("/api/catalog", "catalog", Stage.CANARY, percent=100), catalog_url=dead))
    assert answered_by(plane, "GET", "/api/catalog/1") == "monolith"


def test_forwarding_headers_are_the_proxys(plane: Plane, upstreams: Upstreams) -> None:
    plane.apply(upstreams.table(Route("/api/catalog", "catalog", Stage.LIVE)))
    client = Client(plane)
    try:
        response = client.send(
            "GET",
            "/api/catalog/1",
            {
                "X-Request-Id": "conformance-1",
                "X-Forwarded-For": "6.6.6.6",
                "X-Strangler-Identity": "forged",
                "Authorization": "Token monolith-secret",
            },
        )
        assert response.status == 200
        assert response.headers["X-Request-Id"] == "conformance-1"
        assert client.send("GET", "/api/catalog/a%2Fb").status == 400
    finally:
        client.close()
    (received,) = [r for r in upstreams.catalog.received if r.target == b"/api/catalog/1"]
    assert received.header("x-forwarded-for") == b"127.0.0.1"
    assert received.header("x-forwarded-proto") == b"http"
    assert received.header("x-request-id") == b"conformance-1"
    assert received.header("x-strangler-identity") is None
    if plane.name == "nginx":  # the proxy strips them in its identity step, which needs a signer (tests/dataplane)
        assert received.header("authorization") is None  # a service gets credentials only when the route says so
    assert received.header("via") is not None
