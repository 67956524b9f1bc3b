PRODUCTS = "/api/catalog/products/"


def ids(response):
    assert response.status_code == 200, response.content
    return [p["id"] for p in response.json()["results"]]


def test_products_with_equal_sort_values_come_back_in_id_order(anon, make_product):
    first, second, third = (make_product(price="10.00", name="Same") for _ in range(3))
    # An update moves a row to the end of the table on PostgreSQL: without a tie-breaker it would come back last.
    first.description = "touched"
    first.save()

    for ordering in ("price", "-price", "name", "-name"):
        assert ids(anon.get(PRODUCTS, {"ordering": ordering})) == [first.id, second.id, third.id], ordering


def test_an_explicit_id_ordering_is_kept(anon, make_product):
    products = [make_product(price="10.00") for _ in range(3)]

    assert ids(anon.get(PRODUCTS, {"ordering": "-id"})) == [p.id for p in reversed(products)]
