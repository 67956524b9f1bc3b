"""Credentials are judged before the URL is resolved: on every /api/ path, known or not, whatever the method or
the format asked for, an invalid token is the API's 401 and a session write without its CSRF token the API's 403 —
the very answer forward auth gives the proxy for that request, so a client sees no change when the path moves to
a service."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from common.testing import assert_error

IDENTITY = "/internal/identity/"
COMPARED = ("Content-Type", "WWW-Authenticate", "Allow", "Vary")
BAD_TOKEN = {"HTTP_AUTHORIZATION": "Token 0000000000000000000000000000000000000000"}

# (method, path, extra request headers)
ANYWHERE = [
    ("GET", "/api/catalog/nope/", {}),
    ("GET", "/api/catalog/products", {}),
    ("GET", "/api/catalog/products/abc/", {}),
    ("GET", "/api/catalog/products/99999999999999999999/", {}),
    ("GET", "/api/inventory/availability/x/", {}),
    ("GET", "/api/nothing/here/", {}),
    ("POST", "/api/catalog/nope/", {}),
    ("DELETE", "/api/catalog/nope/", {}),
    ("PUT", "/api/catalog/products/", {}),
    ("OPTIONS", "/api/catalog/products/", {}),
    ("HEAD", "/api/catalog/categories/", {}),
    ("GET", "/api/catalog/products/?format=api", {}),
    ("GET", "/api/catalog/products/", {"HTTP_ACCEPT": "text/html"}),
    ("GET", "/api/catalog/products/?category=1e3", {}),
    ("GET", "/api/orders/?page_size=1000", {}),
    ("POST", "/api/customers/register/", {}),
    ("GET", "/api/schema/", {}),
]


def case_id(case) -> str:
    method, path, extra = case
    return f"{method} {path}{' ' + str(extra) if extra else ''}"


def call(client: APIClient, method: str, path: str, **extra):
    return client.generic(method, path, **extra)


def forward_auth(client: APIClient, method: str, path: str, **extra):
    """What the proxy asks about the same request: its credential headers, method and URI."""
    return client.get(IDENTITY, HTTP_X_ORIGINAL_METHOD=method, HTTP_X_ORIGINAL_URI=path, **extra)


def assert_same_refusal(direct, asked, *, head: bool = False) -> None:
    assert direct.status_code == asked.status_code
    assert direct.content == (b"" if head else asked.content)
    for name in COMPARED:
        assert direct.get(name) == asked.get(name), name


@pytest.mark.parametrize("case", ANYWHERE, ids=case_id)
def test_an_invalid_token_is_the_apis_401_on_every_api_path(db, case):
    method, path, extra = case
    client = APIClient(raise_request_exception=False)

    response = call(client, method, path, **BAD_TOKEN, **extra)

    if method != "HEAD":  # no body to read
        assert assert_error(response, 401, "authentication_failed")["message"] == "Invalid token."
    assert response["WWW-Authenticate"] == "Token"
    assert_same_refusal(response, forward_auth(client, method, path, **BAD_TOKEN), head=method == "HEAD")


@pytest.mark.parametrize("case", ANYWHERE[:8], ids=case_id)
def test_a_malformed_token_header_is_a_401_on_every_api_path(db, case):
    method, path, extra = case

    response = call(APIClient(), method, path, HTTP_AUTHORIZATION="Token", **extra)

    assert_error(response, 401, "authentication_failed")


def test_a_refusal_on_a_known_path_names_that_endpoints_methods(db):
    response = APIClient().get("/api/catalog/products/?format=api", **BAD_TOKEN)

    assert response["Allow"] == "GET, POST, HEAD, OPTIONS"


def test_a_refusal_on_a_path_no_view_serves_names_no_methods(db):
    response = APIClient().get("/api/catalog/nope/", **BAD_TOKEN)

    assert "Allow" not in response


@pytest.mark.parametrize("path", ["/api/catalog/nope/", "/api/catalog/products/"])
def test_a_session_write_without_its_csrf_token_is_the_apis_403_on_every_api_path(charlie, path):
    client = APIClient(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(charlie)

    response = client.post(path, {}, format="json")

    error = assert_error(response, 403, "permission_denied")
    assert error["message"].startswith("CSRF Failed")
    assert_same_refusal(response, forward_auth(client, "POST", path))


def test_valid_credentials_go_on_to_the_path_they_asked_for(client_for, alice):
    client = client_for(alice)

    assert_error(client.get("/api/catalog/nope/"), 404, "not_found")
    assert client.get("/api/catalog/products/").status_code == 200


def test_a_token_is_looked_up_once_per_request_though_judged_first(client_for, alice):
    client = client_for(alice)

    with CaptureQueriesContext(connection) as queries:
        answer = client.get("/api/customers/me/")
    assert answer.status_code == 200 and answer.json()["username"] == alice.username
    assert len([q for q in queries.captured_queries if "authtoken_token" in q["sql"]]) == 1


def test_a_session_without_a_user_is_anonymous_not_refused(anon, db):
    anon.cookies["sessionid"] = "no-such-session"

    assert anon.get("/api/catalog/products/").status_code == 200
    assert_error(anon.get("/api/catalog/nope/"), 404, "not_found")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_an_unsafe_request_to_a_path_no_view_serves_is_the_json_404(db, method):
    """Django's CSRF middleware used to refuse it first, with an HTML 403 that no service would send."""
    client = APIClient(enforce_csrf_checks=True, raise_request_exception=False)

    response = getattr(client, method)("/api/catalog/nope/", {}, format="json")

    assert_error(response, 404, "not_found")
