from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from common.testing import assert_error
from customers.models import Customer

REGISTER = "/api/customers/register/"
User = get_user_model()


def test_anyone_registers_and_gets_a_working_token(anon, db):
    response = anon.post(REGISTER, {"username": "dora", "email": "dora@example.com", "password": "a-long-passphrase"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert Customer.objects.get(id=body["id"]).user.username == "dora"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert client.get("/api/customers/me/").json()["username"] == "dora"


def test_a_taken_username_is_a_400_and_creates_nobody(anon, alice):
    response = anon.post(REGISTER, {"username": "Alice", "email": "x@example.com", "password": "a-long-passphrase"})

    error = assert_error(response, 400, "invalid")
    assert list(error["fields"]) == ["username"]
    assert User.objects.count() == 1


def test_a_weak_password_is_a_400_and_creates_nobody(anon, db):
    response = anon.post(REGISTER, {"username": "dora", "email": "dora@example.com", "password": "12345678"})

    error = assert_error(response, 400, "invalid")
    assert list(error["fields"]) == ["password"]
    assert not User.objects.exists()


def test_the_token_endpoint_trades_a_password_for_a_token(anon, alice):
    response = anon.post("/api/auth/token/", {"username": "alice", "password": "alice-password"})

    assert response.status_code == 200
    assert len(response.json()["token"]) == 40


def test_a_wrong_password_at_the_token_endpoint_is_a_400(anon, alice):
    error = assert_error(anon.post("/api/auth/token/", {"username": "alice", "password": "nope"}), 400, "invalid")
    assert "credentials" in error["message"]
