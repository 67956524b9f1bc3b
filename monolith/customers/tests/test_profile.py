from common.testing import assert_error
from customers.models import Customer

ME = "/api/customers/me/"


def test_a_customer_reads_their_own_profile(client_for, alice):
    response = client_for(alice).get(ME)

    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "alice"
    assert body["email"] == "alice@example.com"
    assert body["id"] == Customer.objects.get(user=alice).id


def test_a_customer_changes_their_name_and_phone(client_for, alice):
    response = client_for(alice).patch(ME, {"first_name": "Alice", "phone": "+49 30 1234"})

    assert response.status_code == 200, response.content
    alice.refresh_from_db()
    assert alice.first_name == "Alice"
    assert Customer.objects.get(user=alice).phone == "+49 30 1234"


def test_the_username_cannot_be_changed_through_the_profile(client_for, alice):
    client_for(alice).patch(ME, {"username": "mallory"})

    alice.refresh_from_db()
    assert alice.username == "alice"


def test_an_invalid_email_is_a_400_and_changes_nothing(client_for, alice):
    error = assert_error(client_for(alice).patch(ME, {"email": "not-an-email"}), 400, "invalid")

    assert list(error["fields"]) == ["email"]
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"


def test_an_anonymous_caller_has_no_profile(anon, db):
    assert_error(anon.get(ME), 401, "not_authenticated")


def test_session_login_works_as_well_as_tokens(alice):
    from rest_framework.test import APIClient

    client = APIClient()
    assert client.login(username="alice", password="alice-password")
    assert client.get(ME).json()["username"] == "alice"


def test_a_session_write_without_a_csrf_token_is_refused_and_changes_nothing(alice):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)

    error = assert_error(client.patch(ME, {"first_name": "Mallory"}), 403, "permission_denied")

    assert "CSRF" in error["message"]
    alice.refresh_from_db()
    assert alice.first_name == ""
