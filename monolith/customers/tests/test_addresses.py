import pytest

from common.testing import assert_error
from customers.models import Address

ADDRESSES = "/api/customers/addresses/"


@pytest.fixture
def home():
    return {
        "label": "Home",
        "recipient": "Alice Example",
        "line1": "Hauptstr. 1",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DE",
    }


def test_a_customers_first_address_becomes_the_default(client_for, alice, home):
    response = client_for(alice).post(ADDRESSES, home)

    assert response.status_code == 201, response.content
    assert response.json()["is_default"] is True


def test_a_new_default_address_replaces_the_old_one(client_for, alice, home):
    client = client_for(alice)
    first = client.post(ADDRESSES, home).json()
    second = client.post(ADDRESSES, {**home, "label": "Work", "is_default": True}).json()

    defaults = list(Address.objects.filter(is_default=True).values_list("id", flat=True))
    assert defaults == [second["id"]]
    assert client.get(f"{ADDRESSES}{first['id']}/").json()["is_default"] is False


def test_customers_only_see_their_own_addresses(client_for, alice, bob, home):
    client_for(alice).post(ADDRESSES, home)
    client_for(bob).post(ADDRESSES, {**home, "recipient": "Bob"})

    listed = client_for(bob).get(ADDRESSES).json()

    assert [a["recipient"] for a in listed["results"]] == ["Bob"]


def test_another_customers_address_is_a_404_for_reading_changing_and_deleting(client_for, alice, bob, home):
    address = client_for(alice).post(ADDRESSES, home).json()
    as_bob = client_for(bob)
    url = f"{ADDRESSES}{address['id']}/"

    assert_error(as_bob.get(url), 404, "not_found")
    assert_error(as_bob.patch(url, {"city": "Hamburg"}), 404, "not_found")
    assert_error(as_bob.delete(url), 404, "not_found")
    assert Address.objects.get(id=address["id"]).city == "Berlin"


def test_a_lower_case_country_is_a_400(client_for, alice, home):
    error = assert_error(client_for(alice).post(ADDRESSES, {**home, "country": "de"}), 400, "invalid")

    assert list(error["fields"]) == ["country"]
    assert not Address.objects.exists()


def test_a_missing_required_field_is_a_400(client_for, alice, home):
    del home["line1"]
    error = assert_error(client_for(alice).post(ADDRESSES, home), 400, "invalid")

    assert error["fields"] == {"line1": ["This field is required."]}
    assert not Address.objects.exists()
