from strangler_kit.testing import assert_error

PRODUCTS = "/api/catalog/products/"


def ids(response):
    assert response.status_code == 200, response.content
    return [p["id"] for p in response.json()["results"]]


def test_it_filters_by_direct_category(anon, make_category, make_product):
    shoes, shirts = make_category(), make_category()
    shoe = make_product(category=shoes)
    make_product(category=shirts)

    assert ids(anon.get(PRODUCTS, {"category": shoes.id})) == [shoe.id]


def test_in_category_includes_every_subcategory(anon, make_category, make_product):
    clothing = make_category("Clothing")
    shoes = make_category("Shoes", parent=clothing)
    trail = make_category("Trail", parent=shoes)
    other = make_category("Garden")
    a = make_product(category=clothing)
    b = make_product(category=shoes)
    c = make_product(category=trail)
    make_product(category=other)

    assert ids(anon.get(PRODUCTS, {"in_category": clothing.id})) == [a.id, b.id, c.id]
    assert ids(anon.get(PRODUCTS, {"in_category": shoes.id})) == [b.id, c.id]


def test_it_filters_by_price_range_inclusive(anon, make_product):
    make_product(price="5.00")
    mid = make_product(price="10.00")
    top = make_product(price="20.00")
    make_product(price="20.01")

    assert ids(anon.get(PRODUCTS, {"min_price": "10", "max_price": "20"})) == [mid.id, top.id]


def test_it_filters_by_currency_in_any_case(anon, make_product):
    make_product(currency="EUR")
    usd = make_product(currency="USD")

    assert ids(anon.get(PRODUCTS, {"currency": "usd"})) == [usd.id]


def test_staff_filter_by_active(client_for, charlie, make_product):
    make_product(active=True)
    off = make_product(active=False)

    assert ids(client_for(charlie).get(PRODUCTS, {"active": "false"})) == [off.id]


def test_it_searches_name_sku_and_description(anon, make_product):
    by_name = make_product(name="Alpine tent")
    by_sku = make_product(sku="TENT-0001")
    by_description = make_product(description="A tent for two")
    make_product(name="Stove")

    assert ids(anon.get(PRODUCTS, {"search": "tent"})) == [by_name.id, by_sku.id, by_description.id]


def test_it_orders_by_price_name_or_creation(anon, make_product):
    b = make_product(name="B", price="3.00")
    a = make_product(name="A", price="9.00")
    c = make_product(name="C", price="1.00")

    assert ids(anon.get(PRODUCTS, {"ordering": "price"})) == [c.id, b.id, a.id]
    assert ids(anon.get(PRODUCTS, {"ordering": "-name"})) == [c.id, b.id, a.id]
    assert ids(anon.get(PRODUCTS, {"ordering": "created_at"})) == [b.id, a.id, c.id]


def test_a_non_numeric_price_filter_is_a_400_naming_the_field(anon, db):
    error = assert_error(anon.get(PRODUCTS, {"min_price": "cheap"}), 400, "invalid")
    assert "min_price" in error["fields"]


def test_a_non_boolean_active_filter_is_a_400(anon, db):
    error = assert_error(anon.get(PRODUCTS, {"active": "sometimes"}), 400, "invalid")
    assert "active" in error["fields"]


def test_ids_asks_for_a_batch_of_products_in_one_request(anon, make_product):
    a, _, c = make_product(), make_product(), make_product()

    assert ids(anon.get(PRODUCTS, {"ids": f"{c.id},{a.id},999999"})) == [a.id, c.id]


def test_ids_shows_staff_the_inactive_products_among_them(anon, client_for, charlie, make_product):
    on, off = make_product(active=True), make_product(active=False)
    both = f"{on.id},{off.id}"

    assert ids(anon.get(PRODUCTS, {"ids": both})) == [on.id]
    assert ids(client_for(charlie).get(PRODUCTS, {"ids": both})) == [on.id, off.id]


def test_a_hundred_ids_fit_one_page(anon, make_product):
    made = [make_product().id for _ in range(3)]
    asked = made + list(range(10**9, 10**9 + 97))

    assert ids(anon.get(PRODUCTS, {"ids": ",".join(map(str, asked)), "page_size": "100"})) == made


def test_more_than_a_hundred_ids_is_a_400_not_a_silent_cap(anon, db):
    error = assert_error(anon.get(PRODUCTS, {"ids": ",".join(map(str, range(1, 102)))}), 400, "invalid")
    assert error["fields"] == {"ids": ["Ask for at most 100 ids at once (not 101)."]}


def test_ids_follow_the_integer_rule(anon, db):
    for bad in ("1,,2", "1,x", "1.5", "1, 2", "99999999999999999999"):
        error = assert_error(anon.get(PRODUCTS, {"ids": bad}), 400, "invalid")
        assert list(error["fields"]) == ["ids"], bad
