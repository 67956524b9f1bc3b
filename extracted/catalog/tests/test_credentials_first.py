"""The identity is judged before the URL is resolved, as the monolith judges a token: on every /api/ path, known or
not, whatever the method or the format asked for, an identity that does not verify is the monolith's invalid-token
401. Only the identity is judged: a token or a cookie is the proxy's to resolve."""

import base64

import pytest
from rest_framework.test import APIClient
from strangler_kit.personas import identity_header
from strangler_kit.testing import assert_error

FORGED = "v1.e30.AAAA"
UNSIGNED = "v1." + base64.urlsafe_b64encode(b'{"sub":1}').rstrip(b"=").decode()

# (method, path, extra request headers)
ANYWHERE = [
    ("GET", "/api/catalog/nope/", {}),
    ("GET", "/api/catalog/products", {}),
    ("GET", "/api/catalog/products/abc/", {}),
    ("GET", "/api/catalog/products/99999999999999999999/", {}),
    ("GET", "/api/orders/", {}),
    ("POST", "/api/catalog/nope/", {}),
    ("DELETE", "/api/catalog/nope/", {}),
    ("PUT", "/api/catalog/products/", {}),
    ("OPTIONS", "/api/catalog/products/", {}),
    ("HEAD", "/api/catalog/categories/", {}),
    ("GET", "/api/catalog/products/?format=api", {}),
    ("GET", "/api/catalog/products/", {"HTTP_ACCEPT": "text/html"}),
    ("GET", "/api/catalog/products/?category=1e3", {}),
    ("GET", "/api/schema/", {}),
]


def case_id(case) -> str:
    method, path, extra = case
    return f"{method} {path}{' ' + str(extra) if extra else ''}"


@pytest.mark.parametrize("header", [FORGED, UNSIGNED], ids=["forged", "unsigned"])
@pytest.mark.parametrize("case", ANYWHERE, ids=case_id)
def test_an_identity_that_does_not_verify_is_the_monoliths_401_on_every_api_path(db, case, header):
    method, path, extra = case

    response = APIClient().generic(method, path, HTTP_X_STRANGLER_IDENTITY=header, **extra)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    if method != "HEAD":  # no body to read
        assert assert_error(response, 401, "authentication_failed")["message"] == "Invalid token."


def test_a_refusal_names_the_methods_of_the_endpoint_asked_about_and_none_elsewhere(db):
    client = APIClient()
    client.credentials(HTTP_X_STRANGLER_IDENTITY=FORGED)

    assert client.get("/api/catalog/products/?format=api")["Allow"] == "GET, POST, HEAD, OPTIONS"
    assert "Allow" not in client.get("/api/catalog/nope/")


def test_a_valid_identity_goes_on_to_the_path_it_asked_for(client_for, alice, db):
    assert_error(client_for(alice).get("/api/catalog/nope/"), 404, "not_found")


def test_a_token_or_a_cookie_without_an_identity_is_anonymous_here(db):
    """The proxy refuses credentials that name nobody before the service is asked; the service cannot judge them."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0000", HTTP_COOKIE="sessionid=nobody")

    assert client.get("/api/catalog/products/").status_code == 200
    assert_error(client.get("/api/catalog/nope/"), 404, "not_found")


def vary(response) -> set[str]:
    return {word.strip() for word in response.get("Vary", "").split(",") if word.strip()}


def test_on_a_path_no_view_serves_vary_names_the_cookie_where_the_monolith_reads_its_session(client_for, alice, db):
    with_token = client_for(alice)
    with_token.credentials(HTTP_X_STRANGLER_IDENTITY=identity_header(alice), HTTP_AUTHORIZATION="Token abc")
    with_cookie = APIClient()
    with_cookie.credentials(HTTP_COOKIE="sessionid=abc")

    assert "Cookie" in vary(with_cookie.get("/api/catalog/nope/"))
    assert "Cookie" not in vary(with_token.get("/api/catalog/nope/"))
    assert "Cookie" not in vary(APIClient().get("/api/catalog/nope/"))


def test_on_a_path_no_view_serves_the_proxys_word_on_withheld_credentials_counts_like_them(client_for, alice, db):
    """The proxy withholds a client's cookie from the service and says so (docs/identity.md): the answer varies on
    the cookie as the monolith's would."""
    cookie_withheld = APIClient()
    cookie_withheld.credentials(HTTP_X_STRANGLER_CREDENTIALS="cookie")
    token_withheld = client_for(alice)
    token_withheld.credentials(HTTP_X_STRANGLER_IDENTITY=identity_header(alice), HTTP_X_STRANGLER_CREDENTIALS="token")

    assert "Cookie" in vary(cookie_withheld.get("/api/catalog/nope/"))
    assert "Cookie" not in vary(token_withheld.get("/api/catalog/nope/"))
