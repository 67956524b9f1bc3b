"""The admin API on a real listener: token auth, one error shape, optimistic concurrency, nothing changed on error."""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from control_plane_helpers import ADMIN_TOKEN, public_placeholder, serve_in_thread
from strangler_proxy.control import admin as admin_module
from strangler_proxy.control.route_endpoints import route_admin_app
from strangler_proxy.control.store import RouteStore, open_store
from strangler_proxy.errors import RequestRefused
from test_table_validation import BAD

pytest_plugins = ("control_plane_fixtures",)

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SEED = {
    "upstreams": {"monolith": {"url": "http://127.0.0.1:8000"}, "catalog": {"url": "http://127.0.0.1:8001"}},
    "routes": [{"path": "/api/catalog", "service": "catalog", "stage": "shadow"}],
}


def call(url: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.request(method, url + path, json=body, headers=AUTH if headers is None else headers, timeout=10)


def seeded(admin: tuple[str, RouteStore]) -> str:
    url, _ = admin
    r = call(url, "POST", "/apply", {"table": SEED, "expected_version": 0, "reason": "seed", "author": "alice"})
    assert r.status_code == 200, r.text
    return url


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    body: dict[str, Any] = r.json()
    assert body["error"] == code and body["status"] == status and body["producer"] == "strangler-admin"
    assert body["detail"]
    return body


def test_healthz_answers_without_a_token(admin: tuple[str, RouteStore]) -> None:
    r = call(admin[0], "GET", "/healthz", headers={})
    assert r.status_code == 200 and r.json()["status"] == "ok"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": f"Basic {ADMIN_TOKEN}"}],
    ids=["no token", "wrong token", "wrong scheme"],
)
def test_every_other_endpoint_refuses_a_request_without_the_right_token(
    admin: tuple[str, RouteStore], headers: dict[str, str]
) -> None:
    url = seeded(admin)
    for method, path in [("GET", "/routes"), ("GET", "/history"), ("GET", "/metrics"), ("POST", "/rollback")]:
        r = call(url, method, path, {"expected_version": 1, "reason": "x"}, headers=headers)
        body = assert_error(r, 401, "unauthorized")
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert ADMIN_TOKEN not in r.text and "wrong-token" not in body["detail"]
    assert admin[1].latest_version() == 1


def test_the_right_token_is_let_in_and_compared_in_constant_time(
    admin: tuple[str, RouteStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real_compare = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real_compare(a, b)

    monkeypatch.setattr(admin_module.hmac, "compare_digest", spy)
    r = call(admin[0], "GET", "/routes")
    assert r.status_code == 200 and r.json() == {"version": 0, "table": None}
    assert compared == [(ADMIN_TOKEN.encode(), ADMIN_TOKEN.encode())]


def test_tokens_never_reach_the_log(admin: tuple[str, RouteStore], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    call(admin[0], "GET", "/routes")
    call(admin[0], "GET", "/routes", headers={"Authorization": "Bearer wrong-token-0123456789"})
    assert "GET /routes -> 401" in caplog.text and "GET /routes -> 200" in caplog.text
    assert ADMIN_TOKEN not in caplog.text and "wrong-token" not in caplog.text


def test_setting_a_route_makes_a_new_version_with_who_and_why(admin: tuple[str, RouteStore]) -> None:
    url = seeded(admin)
    r = call(
        url,
        "POST",
        "/routes",
        {
            "path": "/api/catalog",
            "service": "catalog",
            "stage": "canary",
            "percent": 10,
            "reason": "canary 10",
            "author": "bob",
            "expected_version": 1,
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["diff"] == ["~ route /api/catalog -> catalog: shadow -> canary 10%"]
    current = call(url, "GET", "/routes").json()
    assert current["version"] == 2 and current["author"] == "bob" and current["reason"] == "canary 10"
    assert current["table"]["routes"][0]["percent"] == 10
    history = call(url, "GET", "/history").json()["versions"]
    assert [(v["version"], v["author"]) for v in history] == [(2, "bob"), (1, "alice")]


def test_a_stale_expected_version_gets_409_and_changes_nothing(admin: tuple[str, RouteStore]) -> None:
    url = seeded(admin)
    change = {"path": "/api/catalog", "service": "catalog", "stage": "live", "reason": "go", "expected_version": 0}
    body = assert_error(call(url, "POST", "/routes", change), 409, "stale_version")
    assert body["current_version"] == 1 and "read it again" in body["detail"]
    assert admin[1].latest_version() == 1


BAD_CHANGES = [
    ("unknown service", {"service": "orders"}, "service", "not a known upstream"),
    ("percent without canary", {"stage": "live", "percent": 40}, "percent", "only applies to the canary"),
    ("percent over 100", {"stage": "canary", "percent": 140}, "percent", "between 0 and 100"),
    ("non-canonical path", {"path": "/api/./catalog"}, "path", "dot segment"),
    ("unknown stage", {"stage": "sideways"}, "stage", "choose one of"),
    ("no reason", {"reason": " "}, "reason", "is required"),
    ("no expected version", {"expected_version": None}, "expected_version", "is required"),
]


@pytest.mark.parametrize(("change", "field", "message"), [b[1:] for b in BAD_CHANGES], ids=[b[0] for b in BAD_CHANGES])
def test_a_bad_route_change_gets_422_naming_the_field_and_changes_nothing(
    admin: tuple[str, RouteStore], change: dict[str, Any], field: str, message: str
) -> None:
    url = seeded(admin)
    base = {"path": "/api/catalog", "service": "catalog", "stage": "shadow", "reason": "r", "expected_version": 1}
    body = assert_error(call(url, "POST", "/routes", {**base, **change}), 422, "validation_failed")
    assert any(p["field"] == field and message in p["message"] for p in body["problems"]), body
    assert admin[1].latest_version() == 1


def test_malformed_requests_get_clear_4xx_in_the_same_shape(admin: tuple[str, RouteStore]) -> None:
    url = seeded(admin)
    as_text = httpx.post(url + "/routes", content=b"{}", headers={**AUTH, "Content-Type": "text/plain"})
    assert_error(as_text, 415, "unsupported_media_type")
    broken = httpx.post(url + "/routes", content=b"{nope", headers={**AUTH, "Content-Type": "application/json"})
    assert "not valid JSON" in assert_error(broken, 400, "invalid_json")["detail"]
    huge = httpx.post(url + "/apply", content=b" " * (2 << 20), headers={**AUTH, "Content-Type": "application/json"})
    assert_error(huge, 413, "body_too_large")
    assert_error(call(url, "GET", "/nowhere"), 404, "not_found")
    wrong_method = call(url, "PUT", "/apply", {})
    assert_error(wrong_method, 405, "method_not_allowed")
    assert wrong_method.headers["allow"] == "POST"
    assert_error(call(url, "GET", "/versions/99"), 404, "unknown_version")
    assert_error(call(url, "GET", "/history?limit=0"), 422, "validation_failed")
    assert admin[1].latest_version() == 1


def test_apply_dry_run_shows_the_diff_and_writes_nothing(admin: tuple[str, RouteStore]) -> None:
    url = seeded(admin)
    live = {**SEED, "routes": [{"path": "/api/catalog", "service": "catalog", "stage": "live"}]}
    r = call(url, "POST", "/apply", {"table": live, "dry_run": True})
    assert r.json() == {
        "dry_run": True,
        "version": 1,
        "changed": True,
        "diff": ["~ route /api/catalog -> catalog: shadow -> live"],
    }
    assert admin[1].latest_version() == 1


def test_a_dry_run_of_a_route_change_or_a_rollback_shows_the_diff_and_writes_nothing(
    admin: tuple[str, RouteStore],
) -> None:
    url = seeded(admin)
    change = {"path": "/api/catalog", "stage": "canary", "percent": 10, "expected_version": 1, "dry_run": True}
    r = call(url, "POST", "/routes", change)
    assert r.json() == {
        "dry_run": True,
        "version": 1,
        "changed": True,
        "diff": ["~ route /api/catalog -> catalog: shadow -> canary 10%"],
    }
    assert_error(call(url, "POST", "/routes", {**change, "expected_version": 7}), 409, "stale_version")
    assert_error(call(url, "POST", "/routes", {**change, "percent": 101}), 422, "validation_failed")
    call(url, "POST", "/routes", {**change, "dry_run": False, "reason": "10% of readers"}).raise_for_status()
    back = call(url, "POST", "/rollback", {"to_version": 1, "expected_version": 2, "dry_run": True})
    assert back.json()["diff"] == ["~ route /api/catalog -> catalog: canary 10% -> shadow"]
    assert admin[1].latest_version() == 2


def test_admin_calls_made_in_process_answer_as_over_http_and_changes_are_told_to_observers(
    store: RouteStore,
) -> None:
    app = route_admin_app(store, token=ADMIN_TOKEN)
    told: list[tuple[str, str, Any, Any]] = []
    app.observe(lambda method, path, body, answer: told.append((method, path, body, answer["version"])))

    async def calls() -> list[tuple[int, Any]]:
        return [
            await app.call("POST", "/apply", body={"table": SEED, "expected_version": 0, "reason": "seed"}),
            await app.call("GET", "/history", query="limit=1"),
            await app.call("POST", "/routes", body={"path": "/api/catalog", "stage": "off", "expected_version": 0}),
            await app.call("GET", "/nowhere"),
        ]

    applied, history, stale, missing = asyncio.run(calls())
    assert applied[0] == 200 and history[1]["versions"][0]["author"] == "anonymous@console"
    assert stale[0] == 422 and stale[1]["error"] == "validation_failed"  # no reason given
    assert missing[0] == 404 and missing[1]["producer"] == "strangler-admin"
    assert [(m, p, v) for m, p, _, v in told] == [("POST", "/apply", 1)]  # only the change that was made


def test_applying_the_current_table_again_is_a_no_op(admin: tuple[str, RouteStore]) -> None:
    url = seeded(admin)
    r = call(url, "POST", "/apply", {"table": SEED, "expected_version": 1, "reason": "again"})
    assert r.json()["changed"] is False and r.json()["version"] == 1 and r.json()["diff"] == []
    assert admin[1].latest_version() == 1


def test_an_invalid_applied_table_gets_422_and_changes_nothing(admin: tuple[str, RouteStore]) -> None:
    url = seeded(admin)
    bad = {**SEED, "routes": [{"path": "/api/catalog", "service": "ghost", "stage": "live"}]}
    body = assert_error(
        call(url, "POST", "/apply", {"table": bad, "expected_version": 1, "reason": "r"}), 422, "validation_failed"
    )
    assert body["problems"][0]["field"] == "routes[0].service"
    assert admin[1].latest_version() == 1


def test_rollback_restores_an_earlier_version_as_a_new_one(admin: tuple[str, RouteStore]) -> None:
    url = seeded(admin)
    change = {"path": "/api/catalog", "service": "catalog", "stage": "live", "reason": "go", "expected_version": 1}
    assert call(url, "POST", "/routes", change).status_code == 200
    r = call(url, "POST", "/rollback", {"expected_version": 2, "reason": "5xx on live", "author": "carol"})
    assert r.status_code == 200 and r.json()["version"] == 3
    assert r.json()["diff"] == ["~ route /api/catalog -> catalog: live -> shadow"]
    assert call(url, "GET", "/versions/3").json()["rollback_of"] == 1
    assert call(url, "GET", "/routes").json()["table"] == call(url, "GET", "/versions/1").json()["table"]
    missing = call(url, "POST", "/rollback", {"to_version": 42, "expected_version": 3, "reason": "r"})
    assert_error(missing, 404, "unknown_version")
    assert admin[1].latest_version() == 3


def test_removing_a_route_is_a_versioned_change(admin: tuple[str, RouteStore]) -> None:
    url = seeded(admin)
    r = call(url, "DELETE", "/routes", {"path": "/api/catalog", "expected_version": 1, "reason": "done"})
    assert r.json()["version"] == 2 and r.json()["diff"] == ["- route /api/catalog (catalog, shadow)"]
    again = call(url, "DELETE", "/routes", {"path": "/api/catalog", "expected_version": 2, "reason": "done"})
    assert "no route /api/catalog" in assert_error(again, 422, "validation_failed")["detail"]


def test_metrics_come_from_the_data_plane_registry(admin: tuple[str, RouteStore]) -> None:
    r = call(admin[0], "GET", "/metrics")
    assert r.status_code == 200 and r.text == "strangler_test_metric 1\n"
    assert r.headers["content-type"].startswith("text/plain")


def test_without_a_token_the_api_answers_only_to_a_loopback_host(store: RouteStore) -> None:
    with serve_in_thread(public_placeholder, route_admin_app(store, token=None)) as served:
        assert httpx.get(served.admin_url + "/routes").status_code == 200
        rebound = httpx.get(served.admin_url + "/routes", headers={"Host": "evil.example:80"})
        assert_error(rebound, 403, "forbidden")


def test_an_unreachable_store_gets_503_in_the_same_shape(tmp_path: Path) -> None:
    path = tmp_path / "routes.sqlite3"
    store = open_store(str(path))
    with serve_in_thread(public_placeholder, route_admin_app(store, token=ADMIN_TOKEN)) as served:
        for leftover in tmp_path.iterdir():
            leftover.unlink()
        path.mkdir()  # the store's file is now a directory: SQLite cannot open it
        body = assert_error(call(served.admin_url, "GET", "/routes"), 503, "store_unavailable")
        assert str(path) in body["detail"]


def test_of_two_simultaneous_changes_from_the_same_version_one_wins_and_one_gets_409(
    admin: tuple[str, RouteStore],
) -> None:
    url = seeded(admin)
    barrier = threading.Barrier(2)
    answers: list[httpx.Response] = []

    def change(stage: str) -> None:
        body = {"path": "/api/catalog", "service": "catalog", "stage": stage, "reason": stage, "expected_version": 1}
        barrier.wait()
        answers.append(call(url, "POST", "/routes", body))

    threads = [threading.Thread(target=change, args=(stage,)) for stage in ("live", "off")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in answers) == [200, 409]
    winner = next(r for r in answers if r.status_code == 200).json()
    stored = admin[1].load().table
    assert stored.version == 2 and stored.routes[0].stage.value == winner["table"]["routes"][0]["stage"]


def test_every_invalid_table_is_refused_by_apply_and_changes_nothing(admin: tuple[str, RouteStore]) -> None:
    url = seeded(admin)
    for name, data, field, message in BAD:
        body = assert_error(
            call(url, "POST", "/apply", {"table": data, "expected_version": 1, "reason": name}),
            422,
            "validation_failed",
        )
        assert any(p["field"] == field and message in p["message"] for p in body["problems"]), (name, body)
    assert admin[1].latest_version() == 1 and len(admin[1].history()) == 1


def test_an_endpoint_another_part_adds_gets_the_same_auth_and_error_shape(store: RouteStore) -> None:
    app = route_admin_app(store, token=ADMIN_TOKEN)

    async def mismatches(request: admin_module.Request) -> tuple[int, Any]:
        if request.query("route") is None:
            raise RequestRefused(400, "missing_route", "give ?route=")
        return 200, {"mismatches": [], "route": request.query("route")}

    app.add("GET", "/mismatches", mismatches)
    with serve_in_thread(public_placeholder, app) as served:
        assert_error(call(served.admin_url, "GET", "/mismatches?route=x", headers={}), 401, "unauthorized")
        assert_error(call(served.admin_url, "GET", "/mismatches"), 400, "missing_route")
        assert call(served.admin_url, "GET", "/mismatches?route=x").json() == {"mismatches": [], "route": "x"}


def test_an_upstream_is_added_changed_and_removed_as_versions(admin: tuple[str, RouteStore]) -> None:
    url = seeded(admin)
    added = call(
        url,
        "POST",
        "/upstreams",
        {"name": "orders", "url": "http://127.0.0.1:8002", "reason": "deployed", "expected_version": 1},
    )
    assert added.status_code == 200 and added.json()["diff"] == ["+ upstream orders http://127.0.0.1:8002"]
    changed = call(
        url, "POST", "/upstreams", {"name": "orders", "read_timeout": 5, "reason": "fail fast", "expected_version": 2}
    )
    assert changed.json()["diff"] == ["~ upstream orders: read_timeout 30.0 -> 5.0"]
    assert changed.json()["table"]["upstreams"]["orders"]["url"] == "http://127.0.0.1:8002"
    removed = call(url, "DELETE", "/upstreams", {"name": "orders", "reason": "abandoned", "expected_version": 3})
    assert removed.json()["diff"] == ["- upstream orders (http://127.0.0.1:8002)"]


BAD_UPSTREAM_CHANGES = [
    ("POST", {"name": "orders"}, "upstreams.orders.url", "is required"),
    ("POST", {"name": "catalog", "url": "http://c:1/api"}, "upstreams.catalog.url", "no path"),
    ("POST", {"name": "catalog", "max_connections": 0}, "upstreams.catalog.max_connections", "between 1 and"),
    ("POST", {"name": "Bad Name", "url": "http://b:1"}, "upstreams.Bad Name", "lowercase"),
    ("POST", {}, "name", "is required"),
    ("DELETE", {"name": "catalog"}, "name", "is the service of /api/catalog"),
    ("DELETE", {"name": "monolith"}, "name", "is the default upstream"),
    ("DELETE", {"name": "ghost"}, "name", "there is no upstream 'ghost'"),
]


@pytest.mark.parametrize(("method", "change", "field", "message"), BAD_UPSTREAM_CHANGES)
def test_a_bad_upstream_change_gets_422_and_changes_nothing(
    admin: tuple[str, RouteStore], method: str, change: dict[str, Any], field: str, message: str
) -> None:
    url = seeded(admin)
    body = assert_error(
        call(url, method, "/upstreams", {**change, "reason": "r", "expected_version": 1}), 422, "validation_failed"
    )
    assert any(p["field"] == field and message in p["message"] for p in body["problems"]), body
    assert admin[1].latest_version() == 1


def test_one_router_serves_every_group_and_refuses_a_second_handler_for_an_endpoint(store: RouteStore) -> None:
    app = route_admin_app(store, token=ADMIN_TOKEN)
    assert ("GET", "/versions/{version}") in app.endpoints() and ("POST", "/routes") in app.endpoints()

    async def other(request: admin_module.Request) -> tuple[int, Any]:
        return 200, {}

    with pytest.raises(ValueError, match="already has GET /routes"):
        app.add("GET", "/routes", other)
    with pytest.raises(ValueError, match="already has GET /versions/"):
        app.add("GET", "/versions/{version}", other)
    with serve_in_thread(public_placeholder, app) as served:
        allow = call(served.admin_url, "POST", "/versions/1", {})
        assert_error(allow, 405, "method_not_allowed")
        assert allow.headers["allow"] == "GET"
        assert_error(call(served.admin_url, "GET", "/versions/latest"), 404, "not_found")
