"""The monolith's reviews API, answered by the service: the same rules, status codes and error bodies
(monolith/reviews/tests/test_reviews.py asks the monolith the same questions)."""

import pytest
from strangler_kit.identity.user import ServiceUser
from strangler_kit.testing import assert_error

from reviews.models import Review

REVIEWS = "/api/reviews/"


@pytest.fixture
def product(make_product):
    return make_product()


def review(client, product, rating=5, **extra):
    return client.post(REVIEWS, {"product": product, "rating": rating, "title": "Great", **extra})


def test_a_customer_reviews_a_product_and_anyone_reads_it(client_for, alice, anon, product):
    created = review(client_for(alice), product, 4, body="Solid.")

    assert created.status_code == 201, created.content
    assert created.json()["customer"] == alice.customer_id != alice.id  # the identity's customer claim, not sub
    listed = anon.get(REVIEWS, {"product": product}).json()
    assert listed["count"] == 1
    assert listed["results"][0]["rating"] == 4
    assert listed["results"][0]["body"] == "Solid."


@pytest.mark.parametrize("rating", [0, 6, -1, "five", 4.5, None])
def test_a_rating_outside_1_to_5_is_a_400_and_saves_nothing(client_for, alice, product, rating):
    error = assert_error(review(client_for(alice), product, rating), 400, "invalid")

    assert list(error["fields"]) == ["rating"]
    assert not Review.objects.exists()


def test_one_review_per_customer_per_product(client_for, alice, product):
    client = client_for(alice)
    review(client, product, 5)

    assert_error(review(client, product, 1), 409, "already_reviewed")
    assert list(Review.objects.values_list("rating", flat=True)) == [5]


def test_two_customers_may_review_the_same_product(client_for, alice, bob, product):
    review(client_for(alice), product, 5)

    assert review(client_for(bob), product, 2).status_code == 201


def test_reviewing_a_product_the_catalog_does_not_sell_is_a_400(client_for, alice, catalog, db):
    response = client_for(alice).post(REVIEWS, {"product": 999999, "rating": 5})

    error = assert_error(response, 400, "invalid")
    assert error["fields"] == {"product": ["No product with id 999999 is for sale."]}
    assert catalog.asked == 1
    assert not Review.objects.exists()


def test_when_the_catalog_cannot_answer_a_review_is_a_503_and_nothing_is_written(client_for, alice, catalog, product):
    catalog.failing_with = 500

    response = review(client_for(alice), product)

    assert_error(response, 503, "service_unavailable")
    assert response["Retry-After"] == "1"
    assert not Review.objects.exists()


def test_an_author_edits_their_review_but_cannot_move_it_to_another_product(client_for, alice, product, make_product):
    client = client_for(alice)
    created = review(client, product, 2).json()

    response = client.patch(f"{REVIEWS}{created['id']}/", {"rating": 3, "product": make_product()})

    assert response.status_code == 200
    assert (response.json()["rating"], response.json()["product"]) == (3, product)


def test_an_identity_that_names_no_customer_may_read_but_not_write_a_review(client_for, alice, product):
    """A proxy or monolith older than the customer claim signs none: the service will not guess it from `sub`."""
    without = ServiceUser(id=alice.id, username=alice.username, is_staff=False)
    ours = review(client_for(alice), product, 5).json()

    assert client_for(without).get(REVIEWS).status_code == 200
    assert_error(review(client_for(without), product, 4), 403, "permission_denied")
    assert_error(client_for(without).patch(f"{REVIEWS}{ours['id']}/", {"rating": 1}), 403, "permission_denied")
    assert Review.objects.get().rating == 5


def test_another_customers_review_is_visible_but_cannot_be_changed(client_for, alice, bob, product):
    created = review(client_for(alice), product, 5).json()
    as_bob = client_for(bob)
    url = f"{REVIEWS}{created['id']}/"

    assert as_bob.get(url).status_code == 200
    assert_error(as_bob.patch(url, {"rating": 1}), 403, "permission_denied")
    assert_error(as_bob.delete(url), 403, "permission_denied")
    assert Review.objects.get().rating == 5


def test_staff_may_delete_a_review_but_not_rewrite_it(client_for, alice, charlie, product):
    created = review(client_for(alice), product, 5).json()
    staff = client_for(charlie)
    url = f"{REVIEWS}{created['id']}/"

    assert_error(staff.patch(url, {"rating": 1}), 403, "permission_denied")
    assert staff.delete(url).status_code == 204
    assert not Review.objects.exists()


def test_anonymous_callers_cannot_write_reviews(anon, product):
    response = review(anon, product)

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"
    assert not Review.objects.exists()


def test_reviews_filter_by_minimum_rating_and_order_by_rating(client_for, alice, bob, charlie, anon, product):
    review(client_for(alice), product, 2)
    review(client_for(bob), product, 5)
    review(client_for(charlie), product, 4)

    good = anon.get(REVIEWS, {"product": product, "min_rating": 4, "ordering": "-rating"}).json()

    assert [r["rating"] for r in good["results"]] == [5, 4]


def test_reviews_filter_by_customer(client_for, alice, bob, anon, product):
    review(client_for(alice), product, 2)
    review(client_for(bob), product, 5)

    assert [r["rating"] for r in anon.get(REVIEWS, {"customer": bob.customer_id}).json()["results"]] == [5]


def test_the_summary_counts_and_averages_a_products_ratings(client_for, alice, bob, anon, product):
    review(client_for(alice), product, 2)
    review(client_for(bob), product, 5)

    assert anon.get(f"{REVIEWS}summary/", {"product": product}).json() == {
        "product": product,
        "count": 2,
        "average": 3.5,
    }


def test_the_summary_without_a_product_is_a_400(anon, db):
    error = assert_error(anon.get(f"{REVIEWS}summary/"), 400, "invalid")
    assert list(error["fields"]) == ["product"]


def test_a_forged_identity_is_the_monoliths_invalid_token(anon, db):
    anon.credentials(HTTP_X_STRANGLER_IDENTITY="v1.e30.AAAA")

    assert_error(anon.get(REVIEWS), 401, "authentication_failed")
