"""GET /internal/identity/ names the user behind a request's credentials, and refuses exactly where the API
refuses, with the API's own status, body and challenge, so the proxy can pass the refusal on unchanged."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from customers import selectors as customer_selectors
from customers import services as customer_services

IDENTITY = "/internal/identity/"
PRODUCTS = "/api/catalog/products/"
WRITES = ("INSERT", "UPDATE", "DELETE")


def ask(client: APIClient, method: str = "GET", **headers):
    return client.get(IDENTITY, HTTP_X_ORIGINAL_METHOD=method, HTTP_X_ORIGINAL_URI=PRODUCTS, **headers)


@pytest.fixture
def session_for(db):
    """A browser logged in to the monolith, with CSRF checks on as in production."""

    def make(user) -> APIClient:
        client = APIClient(enforce_csrf_checks=True)
        client.force_login(user)
        return client

    return make


def test_a_request_without_credentials_is_anonymous(anon, db):
    response = ask(anon)

    assert response.status_code == 200
    assert response.json() == {"user": None}


def test_a_token_names_its_user_and_their_customer(client_for, alice, bob):
    customer_services.customer_ensure(user=bob)  # so that alice's customer id is not her user id
    customer_id = customer_services.customer_ensure(user=alice).id
    response = ask(client_for(alice), "POST")

    assert response.status_code == 200
    assert response.json() == {
        "user": {"id": alice.id, "username": "alice", "is_staff": False, "customer": customer_id}
    }
    assert customer_id != alice.id


def test_a_read_makes_no_customer_profile_and_a_write_makes_it_as_the_monolith_would(client_for, charlie):
    assert customer_selectors.customer_id_for_user(user_id=charlie.id) is None
    client = client_for(charlie)

    for method in ("GET", "OPTIONS"):
        with CaptureQueriesContext(connection) as queries:
            answer = ask(client, method)

        assert answer.status_code == 200
        assert answer.json()["user"] == {"id": charlie.id, "username": "charlie", "is_staff": True, "customer": None}
        assert [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(WRITES)] == []
    assert customer_selectors.customer_id_for_user(user_id=charlie.id) is None

    made = ask(client, "POST").json()["user"]["customer"]  # a service may write for them: the profile, on first use

    assert made == customer_selectors.customer_id_for_user(user_id=charlie.id)
    assert type(made) is int
    assert ask(client, "PATCH").json()["user"]["customer"] == ask(client, "GET").json()["user"]["customer"] == made


def test_a_staff_token_says_staff(client_for, charlie):
    assert ask(client_for(charlie), "DELETE").json()["user"]["is_staff"] is True


def test_a_session_names_its_user_for_a_safe_request(session_for, bob):
    customer_id = customer_services.customer_ensure(user=bob).id
    assert ask(session_for(bob)).json() == {
        "user": {"id": bob.id, "username": "bob", "is_staff": False, "customer": customer_id}
    }


def test_an_invalid_token_gets_exactly_the_apis_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    answer = ask(client)
    api = client.get(PRODUCTS)

    assert answer.status_code == api.status_code == 401
    assert answer.json() == api.json()
    assert answer.json()["error"]["message"] == "Invalid token."
    assert answer["WWW-Authenticate"] == api["WWW-Authenticate"] == "Token"


def test_a_malformed_authorization_header_gets_the_apis_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token")

    answer = ask(client, "POST")
    api = client.post(PRODUCTS, {})

    assert answer.status_code == api.status_code == 401
    assert answer.json() == api.json()


def test_a_session_write_without_a_csrf_token_gets_the_apis_403(session_for, charlie):
    client = session_for(charlie)

    answer = ask(client, "POST")
    api = client.post(PRODUCTS, {})

    assert answer.status_code == api.status_code == 403
    assert answer.json() == api.json()
    assert answer.json()["error"]["message"].startswith("CSRF Failed")


def test_a_session_write_with_its_csrf_token_names_the_user(session_for, charlie):
    client = session_for(charlie)
    secret = "x" * 32  # Django accepts the cookie's secret unmasked in the header
    client.cookies["csrftoken"] = secret

    answer = ask(client, "POST", HTTP_X_CSRFTOKEN=secret)

    assert answer.status_code == 200, answer.content
    assert answer.json()["user"]["username"] == "charlie"


def test_the_original_method_is_required(anon, db):
    response = anon.get(IDENTITY)

    assert response.status_code == 400
    assert "X-Original-Method" in response.json()["error"]["fields"]


def test_no_answer_may_be_cached_by_anyone_but_the_proxy(anon, db):
    assert ask(anon)["Cache-Control"] == "private, no-store"
    assert anon.get(IDENTITY)["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize("path", [PRODUCTS, f"{PRODUCTS}7/", "/api/catalog/categories/", "/api/orders/"])
def test_a_refusal_names_the_methods_of_the_endpoint_asked_about(path, db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    answer = client.get(IDENTITY, HTTP_X_ORIGINAL_METHOD="GET", HTTP_X_ORIGINAL_URI=f"{path}?page=2")
    api = client.get(path)

    assert answer.status_code == api.status_code == 401
    assert answer["Allow"] == api["Allow"]


def test_a_path_no_api_view_serves_gets_no_allow(anon, db):
    answer = anon.get(IDENTITY, HTTP_X_ORIGINAL_METHOD="GET", HTTP_X_ORIGINAL_URI="/api/no-such-thing/")

    assert answer.status_code == 200
    assert "Allow" not in answer
