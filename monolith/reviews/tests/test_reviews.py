import pytest

from common.testing import assert_error
from reviews.models import Review

REVIEWS = "/api/reviews/"


@pytest.fixture
def product(make_product):
    return make_product()


def review(client, product, rating=5, **extra):
    return client.post(REVIEWS, {"product": product.id, "rating": rating, "title": "Great", **extra})


def test_a_customer_reviews_a_product_and_anyone_reads_it(client_for, alice, anon, product):
    created = review(client_for(alice), product, 4, body="Solid.")

    assert created.status_code == 201, created.content
    listed = anon.get(REVIEWS, {"product": product.id}).json()
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


def test_reviewing_an_unknown_product_is_a_400(client_for, alice, db):
    response = client_for(alice).post(REVIEWS, {"product": 999999, "rating": 5})

    error = assert_error(response, 400, "invalid")
    assert list(error["fields"]) == ["product"]
    assert not Review.objects.exists()


def test_an_author_edits_their_review_but_cannot_move_it_to_another_product(client_for, alice, product, make_product):
    client = client_for(alice)
    created = review(client, product, 2).json()

    response = client.patch(f"{REVIEWS}{created['id']}/", {"rating": 3, "product": make_product().id})

    assert response.status_code == 200
    assert (response.json()["rating"], response.json()["product"]) == (3, product.id)


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
    assert_error(review(anon, product), 401, "not_authenticated")
    assert not Review.objects.exists()


def test_reviews_filter_by_minimum_rating_and_order_by_rating(client_for, alice, bob, charlie, anon, product):
    review(client_for(alice), product, 2)
    review(client_for(bob), product, 5)
    review(client_for(charlie), product, 4)

    good = anon.get(REVIEWS, {"product": product.id, "min_rating": 4, "ordering": "-rating"}).json()

    assert [r["rating"] for r in good["results"]] == [5, 4]


def test_the_summary_counts_and_averages_a_products_ratings(client_for, alice, bob, anon, product):
    review(client_for(alice), product, 2)
    review(client_for(bob), product, 5)

    assert anon.get(f"{REVIEWS}summary/", {"product": product.id}).json() == {
        "product": product.id,
        "count": 2,
        "average": 3.5,
    }


def test_the_summary_without_a_product_is_a_400(anon, db):
    error = assert_error(anon.get(f"{REVIEWS}summary/"), 400, "invalid")
    assert list(error["fields"]) == ["product"]
