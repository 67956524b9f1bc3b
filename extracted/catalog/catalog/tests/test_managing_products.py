import pytest
from strangler_kit.testing import assert_error

from catalog.models import Product

PRODUCTS = "/api/catalog/products/"


@pytest.fixture
def payload(make_category):
    category = make_category()
    return {
        "sku": "MUG-001",
        "name": "Enamel mug",
        "slug": "enamel-mug",
        "description": "Holds 350 ml",
        "price": "12.50",
        "currency": "EUR",
        "active": True,
        "category": category.id,
    }


def test_staff_create_a_product(client_for, charlie, payload):
    response = client_for(charlie).post(PRODUCTS, payload)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sku"] == "MUG-001"
    assert body["price"] == "12.50"
    assert Product.objects.get(id=body["id"]).name == "Enamel mug"


def test_a_customer_cannot_create_a_product(client_for, alice, payload):
    assert_error(client_for(alice).post(PRODUCTS, payload), 403, "permission_denied")
    assert not Product.objects.exists()


def test_an_anonymous_caller_is_asked_to_authenticate(anon, payload):
    response = anon.post(PRODUCTS, payload)

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"
    assert not Product.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", "-1.00"),
        ("price", "twelve"),
        ("price", "1.234"),
        ("currency", "euro"),
        ("currency", "eu"),
        ("active", "maybe"),
        ("category", 999999),
        ("category", "shoes"),
        ("sku", ""),
        ("slug", "not a slug"),
    ],
)
def test_invalid_fields_are_a_400_that_names_them_and_creates_nothing(client_for, charlie, payload, field, value):
    response = client_for(charlie).post(PRODUCTS, {**payload, field: value})

    error = assert_error(response, 400, "invalid")
    assert list(error["fields"]) == [field]
    assert not Product.objects.exists()


def test_a_duplicate_sku_is_a_400(client_for, charlie, payload, make_product):
    make_product(sku="MUG-001")

    error = assert_error(client_for(charlie).post(PRODUCTS, payload), 400, "invalid")

    assert "sku" in error["fields"]
    assert Product.objects.count() == 1


def test_malformed_json_is_a_400_parse_error(client_for, charlie, db):
    response = client_for(charlie).post(PRODUCTS, data='{"sku": ', content_type="application/json")

    assert_error(response, 400, "parse_error")
    assert not Product.objects.exists()


def test_a_json_list_instead_of_an_object_is_a_400(client_for, charlie, db):
    response = client_for(charlie).post(PRODUCTS, data="[1, 2]", content_type="application/json")

    assert_error(response, 400, "invalid")
    assert not Product.objects.exists()


def test_staff_change_a_price_and_the_timestamp_moves(client_for, charlie, make_product):
    product = make_product(price="10.00")
    before = product.updated_at

    response = client_for(charlie).patch(f"{PRODUCTS}{product.id}/", {"price": "11.00"})

    assert response.status_code == 200
    product.refresh_from_db()
    assert str(product.price) == "11.00"
    assert product.updated_at > before


def test_an_invalid_update_changes_nothing(client_for, charlie, make_product):
    product = make_product(price="10.00")

    assert_error(client_for(charlie).patch(f"{PRODUCTS}{product.id}/", {"price": "-3"}), 400, "invalid")

    product.refresh_from_db()
    assert str(product.price) == "10.00"


def test_a_customer_cannot_change_a_product(client_for, alice, make_product):
    product = make_product(price="10.00")

    assert_error(client_for(alice).patch(f"{PRODUCTS}{product.id}/", {"price": "0.01"}), 403, "permission_denied")

    product.refresh_from_db()
    assert str(product.price) == "10.00"


def test_staff_delete_a_product_nobody_ordered(client_for, charlie, make_product):
    product = make_product()

    assert client_for(charlie).delete(f"{PRODUCTS}{product.id}/").status_code == 204
    assert not Product.objects.exists()
