"""Once the reviews service owns reviews (the engine's record, `ownership`), the monolith's reviews API relays to
it (a real process): a customer's write lands in the service under the customer id the monolith signs into the
identity, reads are the service's, the monolith's own table takes no writes; after a rollback the table answers
again. The service down: a 503, nothing written."""

from __future__ import annotations

import httpx
import pytest

from common.errors import Unavailable
from common.testing import assert_error
from common.testing_services import free_port
from customers import selectors as customer_selectors
from customers import services as customer_services
from ownership import services as ownership_services
from ownership.selectors import Owner
from reviews import selectors, services
from reviews.models import Review
from reviews.seam import SPEC

REVIEWS = "/api/reviews/"


def test_while_the_monolith_owns_reviews_its_table_answers_and_no_service_is_asked(
    settings, client_for, alice, make_product
):
    settings.REVIEWS_SERVICE_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    mug = make_product()

    assert client_for(alice).post(REVIEWS, {"product": mug.id, "rating": 4}).status_code == 201
    assert Review.objects.get().product_id == mug.id
    assert selectors.rating_summary(product_id=mug.id).count == 1


def test_from_cutover_on_a_customers_review_is_written_by_the_service_under_their_customer_id(
    service_owns_the_catalog, service_owns_reviews, service_product, client_for, alice, bob, anon
):
    customer_services.customer_ensure(user=bob)  # so that alice's customer id is not her user id
    tent = service_product()

    created = client_for(alice).post(REVIEWS, {"product": tent["id"], "rating": 5, "title": "Dry"})

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["customer"] == customer_selectors.customer_id_for_user(user_id=alice.id) != alice.id
    assert not Review.objects.exists()  # the monolith's copy is the reverse sync's to write
    assert httpx.get(f"{service_owns_reviews.url}{REVIEWS}{body['id']}/").json()["customer"] == body["customer"]
    listed = anon.get(REVIEWS, {"product": tent["id"]}).json()
    assert [r["id"] for r in listed["results"]] == [body["id"]]
    assert anon.get(f"{REVIEWS}{body['id']}/").json()["title"] == "Dry"
    summary = selectors.rating_summary(product_id=tent["id"])
    assert (summary.count, summary.average) == (1, 5.0)


def test_from_cutover_on_a_page_links_to_the_next_on_the_host_the_client_asked(
    service_owns_the_catalog, service_owns_reviews, service_product, client_for, alice, bob, anon
):
    tent = service_product()
    for who in (alice, bob):
        assert client_for(who).post(REVIEWS, {"product": tent["id"], "rating": 4}).status_code == 201

    page = anon.get(REVIEWS, {"product": tent["id"], "page_size": 1}).json()

    assert page["count"] == 2
    assert page["next"] == f"http://testserver{REVIEWS}?page=2&page_size=1&product={tent['id']}"


def test_from_cutover_on_the_service_decides_who_may_change_a_review(
    service_owns_the_catalog, service_owns_reviews, service_product, client_for, alice, bob, charlie
):
    tent = service_product()
    ours = client_for(alice).post(REVIEWS, {"product": tent["id"], "rating": 5}).json()
    url = f"{REVIEWS}{ours['id']}/"

    assert_error(client_for(bob).patch(url, {"rating": 1}), 403, "permission_denied")
    assert client_for(alice).patch(url, {"rating": 3}).json()["rating"] == 3
    duplicate = client_for(alice).post(REVIEWS, {"product": tent["id"], "rating": 2})
    assert_error(duplicate, 409, "already_reviewed")
    assert client_for(charlie).delete(url).status_code == 204
    assert client_for(alice).get(url).status_code == 404


def test_the_monolith_still_judges_the_credentials_first(service_owns_reviews, anon):
    def asked() -> int:
        return len(service_owns_reviews.requests("POST", REVIEWS)) + len(service_owns_reviews.requests("GET", REVIEWS))

    before = asked()
    assert_error(anon.post(REVIEWS, {"product": 1, "rating": 5}), 401, "not_authenticated")
    anon.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert_error(anon.get(REVIEWS), 401, "authentication_failed")
    assert asked() == before  # neither reached the service


def test_after_a_rollback_the_monolith_table_answers_again(
    service_owns_the_catalog, service_owns_reviews, service_product, client_for, alice, anon
):
    only_in_the_service = service_product()
    client_for(alice).post(REVIEWS, {"product": only_in_the_service["id"], "rating": 5})
    assert anon.get(REVIEWS, {"product": only_in_the_service["id"]}).json()["count"] == 1

    ownership_services.data_owner_record(spec=SPEC, owner=Owner.MONOLITH)  # a rollback's flip

    assert anon.get(REVIEWS, {"product": only_in_the_service["id"]}).json()["count"] == 0  # the sync's to bring
    assert selectors.rating_summary(product_id=only_in_the_service["id"]).count == 0


def test_while_the_service_owns_reviews_the_monolith_copy_takes_no_writes(service_owns_reviews, alice):
    customer_id = customer_services.customer_id_for_user(user=alice)

    with pytest.raises(Unavailable, match="send them through the proxy"):
        services.review_create(customer_id=customer_id, product_id=1, rating=5)
    assert not Review.objects.exists()


def test_when_the_service_is_down_reads_and_writes_are_a_503_and_nothing_is_written(
    reviews_service_down, client_for, alice, anon
):
    read = assert_error(anon.get(REVIEWS), 503, "service_unavailable")
    write = assert_error(client_for(alice).post(REVIEWS, {"product": 1, "rating": 4}), 503, "service_unavailable")

    assert "nothing was changed" in read["message"]
    assert "nothing was changed" in write["message"]  # the connection was refused: the write never left
    assert not Review.objects.exists()
    with pytest.raises(Unavailable):
        selectors.rating_summary(product_id=1)


def test_a_monolith_not_told_where_the_service_is_refuses_and_names_the_setting(service_owns_reviews, settings, anon):
    settings.REVIEWS_SERVICE_URL = ""

    assert "REVIEWS_SERVICE_URL" in assert_error(anon.get(REVIEWS), 503, "service_unavailable")["message"]
