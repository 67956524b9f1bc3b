"""Reads of reviews."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Avg, Count, QuerySet

from reviews import seam
from reviews.models import Review


@dataclass(frozen=True)
class RatingSummary:
    product_id: int
    count: int
    average: float | None


def review_list() -> QuerySet[Review]:
    return Review.objects.all()


def rating_summary(*, product_id: int) -> RatingSummary:
    """Number of reviews and average rating of one product, from the side that owns reviews."""
    if seam.service_owns_reviews():
        answer = seam.reviews_service().rating_summary(product_id=product_id)
        average = answer["average"]
        return RatingSummary(
            product_id=product_id, count=int(answer["count"]), average=None if average is None else float(average)
        )
    row = Review.objects.filter(product_id=product_id).aggregate(count=Count("id"), average=Avg("rating"))
    average = round(float(row["average"]), 2) if row["average"] is not None else None
    return RatingSummary(product_id=product_id, count=row["count"], average=average)
