"""Writes to reviews: one review per customer per product, rating 1 to 5."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from catalog import selectors as catalog_selectors
from common.errors import Conflict, InvalidInput, Unavailable
from reviews.models import Review
from reviews.seam import service_owns_reviews

REVIEW_FIELDS = {"rating", "title", "body"}


def review_create(*, customer_id: int, product_id: int, rating: int, title: str = "", body: str = "") -> Review:
    _require_ownership()
    # Asked before the transaction opens: the catalog may be a network call away (docs/seam.md).
    if not catalog_selectors.product_exists(product_id=product_id, active_only=True):
        raise InvalidInput("Unknown product.", fields={"product": [f"No product with id {product_id} is for sale."]})
    return _review_write(customer_id, product_id, rating, title, body)


@transaction.atomic
def _review_write(customer_id: int, product_id: int, rating: int, title: str, body: str) -> Review:
    duplicate = Conflict("You have already reviewed this product; change that review instead.", code="already_reviewed")
    if Review.objects.filter(customer_id=customer_id, product_id=product_id).exists():
        raise duplicate
    review = Review(customer_id=customer_id, product_id=product_id, rating=rating, title=title, body=body)
    review.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            review.save()
    except IntegrityError as exc:  # the same customer posting twice at once
        raise duplicate from exc
    return review


@transaction.atomic
def review_update(*, review: Review, data: dict[str, Any]) -> Review:
    _require_ownership()
    for name in (n for n in data if n in REVIEW_FIELDS):
        setattr(review, name, data[name])
    review.full_clean(validate_unique=False, validate_constraints=False)
    review.save()
    return review


@transaction.atomic
def review_delete(*, review: Review) -> None:
    _require_ownership()
    review.delete()


def _require_ownership() -> None:
    # From cutover on the monolith's table is a copy the reverse sync writes; a write here would be overwritten.
    if service_owns_reviews():
        raise Unavailable(
            "The reviews service owns reviews now: the monolith's copy takes no writes; send them through the "
            "proxy, which routes /api/reviews to the service, or the monolith's reviews API, which relays to it."
        )
