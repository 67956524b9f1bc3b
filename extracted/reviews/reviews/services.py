"""Writes to reviews: one review per customer per product, rating 1 to 5."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from strangler_kit.errors import Conflict, InvalidInput

from reviews.models import Review
from reviews.products import product_for_sale

REVIEW_FIELDS = {"rating", "title", "body"}


def review_create(*, customer_id: int, product_id: int, rating: int, title: str = "", body: str = "") -> Review:
    # Asked before the transaction opens: the catalog is a network call away.
    if not product_for_sale(product_id=product_id):
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
    for name in (n for n in data if n in REVIEW_FIELDS):
        setattr(review, name, data[name])
    review.full_clean(validate_unique=False, validate_constraints=False)
    review.save()
    return review


@transaction.atomic
def review_delete(*, review: Review) -> None:
    review.delete()
