"""The reviews service answers like the monolith: every read, filter, search, ordering, page and refusal for every
persona, compared on status, the client-visible headers, the parsed body and the raw bytes; then the same writes
sent to both, step by step. On SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from parity import Answer, Side

REVIEWS = "/api/reviews/"
SUMMARY = f"{REVIEWS}summary/"
PERSONAS = ("anon", "alice", "bob", "charlie", "invalid")

# (persona, method, path, query). {p[SKU]} a product, {r[i]} the i-th seeded review.
CASES = [
    *[(who, "GET", REVIEWS, {}) for who in PERSONAS],
    *[(who, "GET", f"{REVIEWS}{{r[0]}}/", {}) for who in PERSONAS],
    ("anon", "GET", f"{REVIEWS}999999/", {}),
    ("anon", "GET", f"{REVIEWS}abc/", {}),
    ("anon", "GET", f"{REVIEWS}{2**63}/", {}),
    ("anon", "GET", REVIEWS, {"product": "{p[TENT-0001]}"}),
    ("anon", "GET", REVIEWS, {"product": "{p[TENT-0001]}", "ordering": "-rating"}),
    ("anon", "GET", REVIEWS, {"product": "{p[TENT-0001]}", "ordering": "rating"}),
    ("anon", "GET", REVIEWS, {"product": "x"}),
    ("anon", "GET", REVIEWS, {"product": "999999"}),
    ("anon", "GET", REVIEWS, {"product": str(2**64)}),
    ("anon", "GET", REVIEWS, {"customer": "2"}),
    ("anon", "GET", REVIEWS, {"customer": "", "product": ""}),
    ("anon", "GET", REVIEWS, {"rating": "4"}),
    ("anon", "GET", REVIEWS, {"rating": "six"}),
    ("anon", "GET", REVIEWS, {"min_rating": "3"}),
    ("anon", "GET", REVIEWS, {"min_rating": "3", "ordering": "-created_at"}),
    ("anon", "GET", REVIEWS, {"search": "tent"}),
    ("anon", "GET", REVIEWS, {"search": "socks cotton"}),
    ("anon", "GET", REVIEWS, {"search": "no such words"}),
    *[("anon", "GET", REVIEWS, {"ordering": o}) for o in ("id", "-id", "rating", "created_at", "-rating,id", "nope")],
    ("anon", "GET", REVIEWS, {"page_size": "3"}),
    ("anon", "GET", REVIEWS, {"page_size": "3", "page": "2", "ordering": "rating"}),
    ("anon", "GET", REVIEWS, {"page_size": "3", "page": "last"}),
    ("anon", "GET", REVIEWS, {"page": "9"}),
    ("anon", "GET", REVIEWS, {"page": "zero"}),
    ("anon", "GET", REVIEWS, {"page_size": "101"}),
    ("anon", "GET", REVIEWS, {"page_size": "0"}),
    *[(who, "GET", SUMMARY, {"product": "{p[TENT-0001]}"}) for who in ("anon", "alice")],
    ("anon", "GET", SUMMARY, {"product": "{p[RAKE-0001]}"}),
    ("anon", "GET", SUMMARY, {"product": "999999"}),
    ("anon", "GET", SUMMARY, {}),
    ("anon", "GET", SUMMARY, {"product": "x"}),
    ("anon", "GET", SUMMARY, {"product": str(2**63)}),
    *[(who, "HEAD", REVIEWS, {}) for who in ("anon", "alice")],
    *[(who, "OPTIONS", path, {}) for who in PERSONAS for path in (REVIEWS, f"{REVIEWS}{{r[0]}}/")],
    ("anon", "OPTIONS", SUMMARY, {}),
    ("invalid", "GET", f"{REVIEWS}nope/", {}),
    ("invalid", "POST", REVIEWS, {}),
    ("anon", "POST", SUMMARY, {}),
    ("anon", "GET", "/api/reviews/nope/deeper/", {}),
]


def case_id(case) -> str:
    who, method, path, query = case
    return f"{method} {path}{'?' + '&'.join(f'{k}={v}' for k, v in query.items()) if query else ''} as {who}"


def filled(text: str, reviews) -> str:
    return text.format(p=reviews.shop.products, r=reviews.reviews)


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_the_reviews_service_answers_like_the_monolith(reviews_monolith, reviews_service, reviews, case):
    who, method, path, query = case
    path = filled(path, reviews)
    query = {key: filled(value, reviews) for key, value in query.items()}

    expected = reviews_monolith.ask(who, method, path, params=query)
    actual = reviews_service.ask(who, method, path, params=query)

    assert actual == expected


class Both:
    """Each step to the monolith, then to the service; the answers must agree (timestamps of rows written during
    the run blanked: each side stamps its own clock)."""

    def __init__(self, monolith: Side, service: Side) -> None:
        self.monolith = monolith
        self.service = service

    def __call__(self, who: str, method: str, path: str, **kwargs: Any) -> Answer:
        expected = self.monolith.ask(who, method, path, **kwargs).masked()
        actual = self.service.ask(who, method, path, **kwargs).masked()
        assert actual == expected, f"{method} {path} as {who}"
        return expected


@pytest.fixture
def both(reviews_monolith, reviews_service) -> Both:
    return Both(reviews_monolith, reviews_service)


def test_nobody_and_bad_credentials_cannot_write(both, reviews):
    body = {"product": reviews.shop.products["RAKE-0001"], "rating": 5}
    first = f"{REVIEWS}{reviews.reviews[0]}/"
    for who, status in (("anon", 401), ("invalid", 401)):
        assert both(who, "POST", REVIEWS, json_body=body).status == status
        assert both(who, "PATCH", first, json_body={"rating": 1}).status == status
        assert both(who, "DELETE", first).status == status


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"product": "{p[RAKE-0001]}", "rating": 0},
        {"product": "{p[RAKE-0001]}", "rating": 6},
        {"product": "{p[RAKE-0001]}", "rating": "five"},
        {"product": "{p[RAKE-0001]}", "rating": 4.5},
        {"product": "{p[RAKE-0001]}", "rating": None},
        {"product": "{p[RAKE-0001]}", "rating": True},
        {"product": "{p[RAKE-0001]}", "rating": 3, "title": "x" * 201},
        {"product": "{p[MAT-0001]}", "rating": 3},  # inactive: not for sale
        {"product": 999999, "rating": 3},
        {"product": 0, "rating": 3},
        {"product": "x", "rating": 3},
        {"product": 99999999999999999999, "rating": 3},
        {"product": [1], "rating": [1]},
    ],
)
def test_invalid_reviews_are_refused_alike(both, reviews, body):
    body = {k: int(filled(v, reviews)) if isinstance(v, str) and "{" in v else v for k, v in body.items()}

    assert both("bob", "POST", REVIEWS, json_body=body).status == 400


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b'{"rating": ', "application/json"), (b"[1, 2]", "application/json"), (b"<r/>", "application/xml")],
)
def test_malformed_and_unsupported_bodies_are_refused_alike(both, content, content_type):
    assert both("bob", "POST", REVIEWS, content=content, content_type=content_type).status in (400, 415)


def test_a_customer_writes_changes_and_deletes_a_review_alike(both, reviews):
    products = reviews.shop.products
    created = both("bob", "POST", REVIEWS, json_body={"product": products["RAKE-0001"], "rating": 4, "title": "Ok"})
    assert created.status == 201
    mine = f"{REVIEWS}{created.body['id']}/"
    assert both("bob", "POST", REVIEWS, json_body={"product": products["RAKE-0001"], "rating": 1}).status == 409
    assert both("bob", "PATCH", mine, json_body={"rating": 5, "product": products["HOSE-0001"]}).status == 200
    assert both("bob", "PUT", mine, json_body={"rating": 2, "title": "Changed", "body": "Mind changed"}).status == 200
    assert both("bob", "PATCH", mine, json_body={"rating": 9}).status == 400
    assert both("alice", "PATCH", mine, json_body={"rating": 1}).status == 403
    assert both("alice", "DELETE", mine).status == 403
    assert both("charlie", "PATCH", mine, json_body={"rating": 1}).status == 403  # staff moderate, never rewrite
    assert both("anon", "GET", SUMMARY, params={"product": str(products["RAKE-0001"])}).status == 200
    assert both("bob", "DELETE", mine).status == 204
    assert both("bob", "DELETE", mine).status == 404
    assert both("bob", "GET", mine).status == 404


def test_staff_delete_any_review_alike(both, reviews):
    products = reviews.shop.products
    created = both("alice", "POST", REVIEWS, json_body={"product": products["HOSE-0001"], "rating": 1, "body": "Spam"})
    assert created.status == 201
    assert both("charlie", "DELETE", f"{REVIEWS}{created.body['id']}/").status == 204


def test_form_bodies_are_read_alike(both, reviews):
    product = reviews.shop.products["MUG-00001"]
    created = both(
        "bob",
        "POST",
        REVIEWS,
        content=f"product={product}&rating=3&title=Form".encode(),
        content_type="application/x-www-form-urlencoded",
    )
    assert created.status == 201
    assert both("bob", "DELETE", f"{REVIEWS}{created.body['id']}/").status == 204
