"""Writing a review once the catalog service owns the catalog: the product is checked with the service (a real
process); when it cannot answer, a 503 and nothing written."""

from __future__ import annotations

from common.testing import assert_error
from reviews.models import Review

REVIEWS = "/api/reviews/"


def test_a_customer_reviews_a_product_only_the_service_knows(
    service_owns_the_catalog, service_product, client_for, alice, anon
):
    tent, off = service_product(), service_product(active=False)

    assert client_for(alice).post(REVIEWS, {"product": tent["id"], "rating": 5}).status_code == 201
    assert_error(client_for(alice).post(REVIEWS, {"product": off["id"], "rating": 5}), 400, "invalid")
    assert anon.get(REVIEWS, {"product": tent["id"]}).json()["count"] == 1


def test_when_the_service_is_down_a_review_is_a_503_and_nothing_is_written(service_down, client_for, alice):
    assert_error(client_for(alice).post(REVIEWS, {"product": 1, "rating": 4}), 503, "service_unavailable")
    assert not Review.objects.exists()
