from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

MIN_RATING, MAX_RATING = 1, 5


class Review(models.Model):
    """The monolith's `reviews_review`, column for column (the engine maps it one to one); its two foreign keys into
    other domains are plain ids here: the product is the catalog's, the customer the monolith's."""

    product_id = models.BigIntegerField(db_index=True)
    customer_id = models.BigIntegerField(db_index=True)
    rating = models.PositiveSmallIntegerField(validators=[MinValueValidator(MIN_RATING), MaxValueValidator(MAX_RATING)])
    title = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["product_id", "created_at"], name="reviews_review_product_created")]
        constraints = [
            models.UniqueConstraint(fields=["product_id", "customer_id"], name="reviews_one_per_customer_per_product"),
            models.CheckConstraint(
                condition=Q(rating__gte=MIN_RATING) & Q(rating__lte=MAX_RATING), name="reviews_rating_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rating}/5 on product {self.product_id}"
