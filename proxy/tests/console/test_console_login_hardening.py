"""The console's login over HTTP against real `strangler proxy` processes: the session cookie is Secure exactly when
the console is reached over HTTPS (as a TLS-terminating proxy in front says) or STRANGLER_CONSOLE_SECURE_COOKIE
says so, and wrong tokens from one client address are slowed down (429 with Retry-After) without holding back
anyone else; a successful login resets the count."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from control_plane_helpers import ADMIN_TOKEN, ProxyProcess, proxy_process, upstream_server
from strangler_proxy.console.login_limits import MAX_FAILURES, WINDOW, LoginLimits

WRONG = "y" * 40


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    store = tmp_path_factory.mktemp("console-login") / "routes.sqlite3"
    with (
        upstream_server("monolith") as monolith,
        proxy_process(STRANGLER_ROUTE_STORE=str(store), STRANGLER_MONOLITH_URL=monolith) as proxy,
    ):
        yield proxy


@pytest.fixture(scope="module")
def always_secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    store = tmp_path_factory.mktemp("console-secure") / "routes.sqlite3"
    with (
        upstream_server("monolith") as monolith,
        proxy_process(
            STRANGLER_ROUTE_STORE=str(store), STRANGLER_MONOLITH_URL=monolith, STRANGLER_CONSOLE_SECURE_COOKIE="1"
        ) as proxy,
    ):
        yield proxy


def client_from(proxy: ProxyProcess, address: str = "127.0.0.1") -> httpx.Client:
    """A client whose connections come from `address` (any of 127.0.0.0/8 reaches the loopback listener)."""
    return httpx.Client(base_url=proxy.admin_url, timeout=10, transport=httpx.HTTPTransport(local_address=address))


def log_in(client: httpx.Client, token: str, **headers: str) -> httpx.Response:
    sent = {"origin": str(client.base_url).rstrip("/"), **headers}
    return client.post("/console/login", data={"token": token, "name": "alice"}, headers=sent)


def cookie_attributes(answer: httpx.Response) -> set[str]:
    return {part.strip() for part in answer.headers["set-cookie"].split(";")[1:]}


def test_over_plain_http_the_session_cookie_is_not_secure(plain: ProxyProcess) -> None:
    with client_from(plain) as client:
        answer = log_in(client, ADMIN_TOKEN)
    assert answer.status_code == 303
    assert "Secure" not in cookie_attributes(answer)
    assert {"HttpOnly", "SameSite=Strict", "Path=/console"} <= cookie_attributes(answer)


def test_a_login_forwarded_as_https_gets_a_secure_cookie_and_its_https_origin_counts(plain: ProxyProcess) -> None:
    https_origin = plain.admin_url.replace("http://", "https://")
    with client_from(plain) as client:
        # Without the forwarding proxy's word, an https:// origin is another origin than this plain listener.
        assert log_in(client, ADMIN_TOKEN, origin=https_origin).status_code == 403

        answer = log_in(client, ADMIN_TOKEN, origin=https_origin, **{"x-forwarded-proto": "https"})
        assert answer.status_code == 303, answer.text
        assert "Secure" in cookie_attributes(answer)

        session = answer.cookies["strangler_console"]
        client.cookies.set("strangler_console", session)  # httpx keeps a Secure cookie from a plain-HTTP server back
        csrf = client.get("/console/api/session").json()["csrf"]
        forwarded = {"origin": https_origin, "x-forwarded-proto": "https", "x-csrf-token": csrf}
        logged_out = client.post("/console/logout", json={}, headers=forwarded)
    assert logged_out.status_code == 200
    assert {"Secure", "Max-Age=0"} <= cookie_attributes(logged_out)


def test_with_the_setting_every_session_cookie_is_secure(always_secure: ProxyProcess) -> None:
    with client_from(always_secure) as client:
        answer = log_in(client, ADMIN_TOKEN)
        https = log_in(client, ADMIN_TOKEN, origin=always_secure.admin_url.replace("http://", "https://"))
    assert answer.status_code == 303 and "Secure" in cookie_attributes(answer)
    assert https.status_code == 303 and "Secure" in cookie_attributes(https)


def test_wrong_tokens_from_one_address_are_slowed_down_and_others_are_not(plain: ProxyProcess) -> None:
    with client_from(plain, "127.0.0.2") as guesser, client_from(plain, "127.0.0.3") as operator:
        for _ in range(MAX_FAILURES):
            wrong = log_in(guesser, WRONG)
            assert (wrong.status_code, wrong.headers["location"]) == (303, "/console/login?error=token")

        refused = log_in(guesser, WRONG)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= WINDOW
        assert "Too many wrong tokens from your address" in refused.text
        right_but_refused = log_in(guesser, ADMIN_TOKEN)
        assert right_but_refused.status_code == 429 and "set-cookie" not in right_but_refused.headers

        assert log_in(operator, ADMIN_TOKEN).status_code == 303
    assert ADMIN_TOKEN not in plain.log_text() and WRONG not in plain.log_text()


def test_a_successful_login_forgets_the_wrong_tokens_before_it(plain: ProxyProcess) -> None:
    with client_from(plain, "127.0.0.4") as client:
        for _ in range(2):
            for _ in range(MAX_FAILURES - 1):
                assert log_in(client, WRONG).status_code == 303
            assert log_in(client, ADMIN_TOKEN).headers["location"] == "/console/"


def test_logins_are_let_through_again_once_the_oldest_failure_is_a_window_old() -> None:
    now = [1000.0]
    limits = LoginLimits(max_failures=3, window=60.0, clock=lambda: now[0])
    for step in range(3):
        now[0] = 1000.0 + step * 10
        assert limits.retry_after("10.0.0.1") == 0
        limits.failed("10.0.0.1")

    assert limits.retry_after("10.0.0.1") == 40  # the first failure, at 1000, is a window old at 1060
    assert limits.retry_after("10.0.0.2") == 0
    now[0] = 1059.5
    assert limits.retry_after("10.0.0.1") == 1
    now[0] = 1060.0
    assert limits.retry_after("10.0.0.1") == 0
