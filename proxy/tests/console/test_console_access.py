"""Who may use the console, checked over HTTP against a real `strangler proxy`: nothing without a session (every
page sends to the login form, every API call is 401), the token travels only in the login form and is never
logged, the cookie is HttpOnly and SameSite=Strict, a POST from another origin or without the session's CSRF token
is refused and changes nothing, logging out ends the session on the server, and the public listener has no
console."""

from __future__ import annotations

import httpx
import pytest
from console_helpers import CATALOG, Running, logged_in
from control_plane_helpers import ADMIN_TOKEN, wait_for

pytest_plugins = ("console_fixtures",)

PAGES = ["/console/", "/console/route?path=/api/catalog", "/console/diffs", "/console/cutover"]
API_GETS = [
    "/console/api/session",
    "/console/api/overview",
    "/console/api/route?path=/api/catalog",
    "/console/api/diffs",
    "/console/api/diff?id=1",
    "/console/api/diff/export?id=1&format=pytest",
    "/console/api/cutover",
]
API_POSTS = ["/console/api/preview", "/console/api/change", "/console/logout"]


def test_without_a_session_every_page_sends_to_the_login_form_and_every_api_call_is_refused(running: Running) -> None:
    with httpx.Client(base_url=running.proxy.admin_url, timeout=10) as anonymous:
        for page in PAGES:
            answer = anonymous.get(page)
            assert (answer.status_code, answer.headers["location"]) == (303, "/console/login"), page
            assert answer.content == b""
        for call in API_GETS:
            assert anonymous.get(call).status_code == 401, call
        origin = {"origin": running.proxy.admin_url, "x-csrf-token": "guess"}
        for call in API_POSTS:
            assert anonymous.post(call, json={}, headers=origin).status_code == 401, call
        anonymous.cookies.set("strangler_console", "not-a-session")
        assert anonymous.get("/console/api/overview").status_code == 401


def test_a_login_gives_an_httponly_samesite_strict_session_cookie_and_never_logs_the_token(running: Running) -> None:
    origin = {"origin": running.proxy.admin_url}
    with httpx.Client(base_url=running.proxy.admin_url, timeout=10) as client:
        wrong = client.post("/console/login", data={"token": "x" * 40, "name": "mallory"}, headers=origin)
        assert (wrong.status_code, wrong.headers["location"]) == (303, "/console/login?error=token")
        assert "set-cookie" not in wrong.headers
        assert "not this proxy's admin token" in client.get(wrong.headers["location"]).text
        answer = client.post("/console/login", data={"token": ADMIN_TOKEN, "name": "alice"}, headers=origin)
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("strangler_console=")
        assert {"HttpOnly", "SameSite=Strict", "Path=/console"} <= {p.strip() for p in cookie.split(";")}
        assert client.get("/console/api/session").json()["name"] == "alice"
        page = client.get("/console/")
        assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
    wait_for(lambda: "console GET /console/ -> 200" in running.proxy.log_text(), 15)  # the log is read by a thread
    assert "console POST /console/login -> 303" in running.proxy.log_text()
    assert ADMIN_TOKEN not in running.proxy.log_text()


def test_a_login_from_another_origin_is_refused(running: Running) -> None:
    with httpx.Client(base_url=running.proxy.admin_url, timeout=10) as client:
        cross_site = {"origin": running.proxy.admin_url, "sec-fetch-site": "cross-site"}
        for headers in ({}, {"origin": "http://evil.example"}, cross_site):
            answer = client.post("/console/login", data={"token": ADMIN_TOKEN, "name": "alice"}, headers=headers)
            assert answer.status_code == 403 and "set-cookie" not in answer.headers, headers


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"origin": "http://evil.example"}, id="another-origin-with-the-token"),
        pytest.param({"origin": None}, id="no-origin"),
        pytest.param({"sec-fetch-site": "cross-site"}, id="cross-site-fetch"),
        pytest.param({"x-csrf-token": None}, id="no-csrf-token"),
        pytest.param({"x-csrf-token": "wrong"}, id="wrong-csrf-token"),
    ],
)
def test_a_post_that_may_come_from_another_site_is_refused_and_changes_nothing(
    running: Running, headers: dict[str, str | None]
) -> None:
    client = logged_in(running.console)
    csrf = client.get("/console/api/session").json()["csrf"]
    sent = {"origin": running.proxy.admin_url, "x-csrf-token": csrf, **headers}
    version = running.admin.routes()["version"]
    change = {"path": CATALOG, "methods": None, "fields": {"stage": "off"}, "reason": "x", "expected_version": version}
    answer = client.post("/console/api/change", json=change, headers={k: v for k, v in sent.items() if v is not None})
    assert answer.status_code == 403 and answer.json()["error"] == "forbidden"
    assert running.admin.routes()["version"] == version


def test_logging_out_ends_the_session_on_the_server(running: Running) -> None:
    client = logged_in(running.console)
    stolen = client.cookies.get("strangler_console")
    csrf = client.get("/console/api/session").json()["csrf"]
    answer = client.post("/console/logout", json={}, headers={"origin": running.proxy.admin_url, "x-csrf-token": csrf})
    assert answer.status_code == 200 and "Max-Age=0" in answer.headers["set-cookie"]
    with httpx.Client(cookies={"strangler_console": stolen or ""}) as replaying:
        assert replaying.get(running.console + "/api/overview").status_code == 401


def test_the_admin_api_still_needs_its_token_and_the_public_listener_has_no_console(running: Running) -> None:
    client = logged_in(running.console)
    assert client.get("/routes").status_code == 401  # a console session is no bearer token
    public = httpx.get(running.proxy.public_url + "/console/", timeout=10)
    assert public.json() == {"upstream": "monolith", "path": "/console/"}  # the monolith's answer
