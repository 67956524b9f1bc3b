from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

country_code = RegexValidator(r"^[A-Z]{2}$", "Use a two-letter ISO 3166 country code in capitals, e.g. DE.")


class Warehouse(models.Model):
    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=200)
    city = models.CharField(max_length=100)
    country = models.CharField(max_length=2, validators=[country_code])
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.code


class Stock(models.Model):
    """Units of a product physically on hand in a warehouse. What is free to sell is this minus active
    reservations; that figure is computed, never stored, so it cannot drift."""

    product_id = models.BigIntegerField(db_index=True)  # the catalog's id (docs/seam.md)
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="stock")
    quantity = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "stock"
        constraints = [
            models.UniqueConstraint(
                fields=["product_id", "warehouse"], name="inventory_stock_one_per_product_warehouse"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x product {self.product_id} @ {self.warehouse_id}"


class Reservation(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        RELEASED = "released"
        FULFILLED = "fulfilled"

    product_id = models.BigIntegerField(db_index=True)  # the catalog's id (docs/seam.md)
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="reservations")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["product_id", "warehouse", "status"], name="inventory_res_prod_wh_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="inventory_reservation_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x product {self.product_id} @ {self.warehouse_id} ({self.status})"
