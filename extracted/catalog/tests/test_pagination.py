import pytest
from strangler_kit.pagination import MAX_PAGE_SIZE
from strangler_kit.testing import assert_error

PRODUCTS = "/api/catalog/products/"


def test_page_size_up_to_the_maximum_is_honoured(anon, make_product):
    make_product()
    response = anon.get(PRODUCTS, {"page_size": MAX_PAGE_SIZE})
    assert response.status_code == 200


def test_an_oversized_page_is_a_400_not_a_silent_cap(anon, db):
    error = assert_error(anon.get(PRODUCTS, {"page_size": MAX_PAGE_SIZE + 1}), 400, "invalid")
    assert list(error["fields"]) == ["page_size"]


@pytest.mark.parametrize("size", ["0", "-5", "ten", ""])
def test_a_malformed_page_size_is_a_400(anon, db, size):
    assert_error(anon.get(PRODUCTS, {"page_size": size}), 400, "invalid")


def test_a_page_past_the_end_is_a_404(anon, make_product):
    make_product()
    assert_error(anon.get(PRODUCTS, {"page": 99}), 404, "not_found")
