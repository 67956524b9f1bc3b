from strangler_kit.testing import assert_error

PRODUCTS = "/api/catalog/products/"


def test_anyone_lists_active_products_with_every_field(anon, make_product):
    product = make_product(name="Trail shoe", price="89.90", description="Light and grippy")

    response = anon.get(PRODUCTS)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["results"] == [
        {
            "id": product.id,
            "sku": product.sku,
            "name": "Trail shoe",
            "slug": product.slug,
            "description": "Light and grippy",
            "price": "89.90",
            "currency": "EUR",
            "active": True,
            "category": product.category_id,
            "created_at": body["results"][0]["created_at"],
            "updated_at": body["results"][0]["updated_at"],
        }
    ]


def test_anyone_reads_one_product_by_id(anon, make_product):
    product = make_product()

    response = anon.get(f"{PRODUCTS}{product.id}/")

    assert response.status_code == 200
    assert response.json()["sku"] == product.sku


def test_inactive_products_are_hidden_from_customers(client_for, alice, make_product):
    make_product(active=True)
    hidden = make_product(active=False)
    client = client_for(alice)

    assert client.get(PRODUCTS).json()["count"] == 1
    assert_error(client.get(f"{PRODUCTS}{hidden.id}/"), 404, "not_found")


def test_staff_see_inactive_products(client_for, charlie, make_product):
    make_product(active=True)
    hidden = make_product(active=False)
    client = client_for(charlie)

    assert client.get(PRODUCTS).json()["count"] == 2
    assert client.get(f"{PRODUCTS}{hidden.id}/").status_code == 200


def test_an_unknown_product_id_is_a_404_in_the_error_shape(anon, db):
    error = assert_error(anon.get(f"{PRODUCTS}999999/"), 404, "not_found")
    assert error["fields"] == {}


def test_a_non_numeric_product_id_is_a_404(anon, db):
    assert_error(anon.get(f"{PRODUCTS}abc/"), 404, "not_found")


def test_products_are_paginated_in_id_order(anon, make_product):
    ids = [make_product().id for _ in range(5)]

    first = anon.get(PRODUCTS, {"page_size": 2}).json()
    third = anon.get(PRODUCTS, {"page_size": 2, "page": 3}).json()

    assert first["count"] == 5
    assert [p["id"] for p in first["results"]] == ids[:2]
    assert first["next"].endswith("page=2&page_size=2")
    assert first["previous"] is None
    assert [p["id"] for p in third["results"]] == ids[4:]
    assert third["next"] is None
