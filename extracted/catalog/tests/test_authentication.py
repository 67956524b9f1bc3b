"""Through the API: only a valid signed identity authenticates; anything else is the monolith's invalid-token
401, and no header at all is an anonymous caller."""

import time

import pytest
from rest_framework.test import APIClient
from strangler_kit.personas import identity_header
from strangler_kit.testing import assert_error

from catalog.models import Product

PRODUCTS = "/api/catalog/products/"


@pytest.fixture
def payload(make_category):
    return {
        "sku": "MUG-001",
        "name": "Enamel mug",
        "slug": "enamel-mug",
        "price": "12.50",
        "category": make_category().id,
    }


def arriving_with(header: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_STRANGLER_IDENTITY=header)
    return client


def assert_invalid_token(response):
    error = assert_error(response, 401, "authentication_failed")
    assert error == {"status": 401, "code": "authentication_failed", "message": "Invalid token.", "fields": {}}
    assert response["WWW-Authenticate"] == "Token"


def test_staff_with_a_signed_identity_create_a_product(client_for, charlie, payload):
    response = client_for(charlie).post(PRODUCTS, payload)

    assert response.status_code == 201, response.content
    assert Product.objects.filter(sku="MUG-001").exists()


def test_a_customer_with_a_signed_identity_is_refused_a_write(client_for, alice, payload):
    assert_error(client_for(alice).post(PRODUCTS, payload), 403, "permission_denied")


def test_without_an_identity_a_write_asks_for_a_token(anon, payload):
    response = anon.post(PRODUCTS, payload)

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"


def test_a_forged_identity_claiming_staff_is_refused(alice, payload, settings):
    settings.STRANGLER_IDENTITY_KEY = "the-attackers-guess-at-the-key-0123456789"
    forged = identity_header(alice.__class__(id=alice.id, username="alice", is_staff=True))
    settings.STRANGLER_IDENTITY_KEY = "the-real-key-of-the-proxy-and-services-0123"

    assert_invalid_token(arriving_with(forged).post(PRODUCTS, payload))
    assert not Product.objects.exists()


def test_an_expired_identity_is_refused(charlie, payload):
    expired = identity_header(charlie, issued_at=int(time.time()) - 120)

    assert_invalid_token(arriving_with(expired).post(PRODUCTS, payload))
    assert not Product.objects.exists()


def test_an_unsigned_identity_is_refused(charlie, payload):
    unsigned = identity_header(charlie).rsplit(".", 1)[0]

    assert_invalid_token(arriving_with(unsigned).post(PRODUCTS, payload))
    assert_invalid_token(arriving_with(unsigned + ".").post(PRODUCTS, payload))


def test_a_bare_username_in_the_header_is_refused(db):
    assert_invalid_token(arriving_with("charlie").get(PRODUCTS))


def test_an_invalid_identity_is_refused_on_reads_too_as_the_monolith_refuses_a_bad_token(make_product, charlie):
    make_product()
    expired = identity_header(charlie, issued_at=int(time.time()) - 120)

    assert_invalid_token(arriving_with(expired).get(PRODUCTS))


def test_staff_identity_sees_inactive_products_and_customers_do_not(client_for, alice, charlie, make_product):
    make_product(active=False)

    assert client_for(charlie).get(PRODUCTS).json()["count"] == 1
    assert client_for(alice).get(PRODUCTS).json()["count"] == 0


def vary(response) -> set[str]:
    return {word.strip() for word in response.get("Vary", "").split(",") if word.strip()}


def test_vary_names_the_cookie_exactly_where_the_monolith_falls_back_to_its_session(client_for, alice, db):
    with_token = client_for(alice)
    with_token.credentials(HTTP_X_STRANGLER_IDENTITY=identity_header(alice), HTTP_AUTHORIZATION="Token abc")
    with_bearer = client_for(alice)
    with_bearer.credentials(HTTP_X_STRANGLER_IDENTITY=identity_header(alice), HTTP_AUTHORIZATION="Bearer abc")

    assert "Cookie" in vary(APIClient().get(PRODUCTS))
    assert "Cookie" in vary(client_for(alice).get(PRODUCTS))  # a session user, as far as the service can tell
    assert "Cookie" in vary(with_bearer.get(PRODUCTS))
    assert "Cookie" not in vary(with_token.get(PRODUCTS))
    assert "Cookie" not in vary(APIClient().get("/api/nothing/"))


def test_vary_follows_the_kinds_of_credentials_the_proxy_withheld(client_for, alice, db):
    """A route that withholds the client's credentials names their kinds only (docs/identity.md): a token still means
    the monolith would not have read its session."""
    withheld_token = client_for(alice)
    withheld_token.credentials(HTTP_X_STRANGLER_IDENTITY=identity_header(alice), HTTP_X_STRANGLER_CREDENTIALS="token")
    withheld_other = client_for(alice)
    withheld_other.credentials(
        HTTP_X_STRANGLER_IDENTITY=identity_header(alice), HTTP_X_STRANGLER_CREDENTIALS="authorization, cookie"
    )

    assert "Cookie" not in vary(withheld_token.get(PRODUCTS))
    assert "Cookie" in vary(withheld_other.get(PRODUCTS))


def test_an_identity_minted_for_another_service_is_refused(client_for, alice, db):
    replayed = APIClient()
    replayed.credentials(HTTP_X_STRANGLER_IDENTITY=identity_header(alice, audience="inventory"))

    answer = replayed.get(PRODUCTS)

    assert answer.status_code == 401 and answer.json()["error"]["code"] == "authentication_failed"
