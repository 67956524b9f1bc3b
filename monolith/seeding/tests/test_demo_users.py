import json
from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command

from seeding.management.commands.demo_users import DEMO_USERS


def demo_users(*args):
    out = StringIO()
    call_command("demo_users", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def test_demo_users_can_sign_in_with_the_printed_passwords(db, anon):
    printed = demo_users()

    assert [u["username"] for u in printed] == list(DEMO_USERS)
    for user in printed:
        response = anon.post("/api/auth/token/", {"username": user["username"], "password": user["password"]})
        assert response.json()["token"] == user["token"]


def test_the_staff_demo_user_manages_the_catalog_and_the_customer_does_not(db, client_for):
    from rest_framework.test import APIClient

    tokens = {u["username"]: u["token"] for u in demo_users()}
    staff, customer = APIClient(), APIClient()
    staff.credentials(HTTP_AUTHORIZATION=f"Token {tokens['staff']}")
    customer.credentials(HTTP_AUTHORIZATION=f"Token {tokens['demo']}")

    assert staff.get("/api/inventory/warehouses/").status_code == 200
    assert customer.get("/api/inventory/warehouses/").status_code == 403
    assert customer.get("/api/customers/me/").json()["username"] == "demo"


def test_running_it_again_keeps_the_tokens(db):
    assert demo_users() == demo_users()


def test_reset_restores_a_changed_password(db, anon):
    demo_users()
    user = get_user_model().objects.get(username="demo")
    user.set_password("changed-by-someone")
    user.save()

    demo_users("--reset")

    assert anon.post("/api/auth/token/", {"username": "demo", "password": "strangler-demo"}).status_code == 200
