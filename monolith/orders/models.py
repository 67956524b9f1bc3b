from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PAID = "paid"
        SHIPPED = "shipped"
        CANCELLED = "cancelled"

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    currency = models.CharField(max_length=3)
    # The sum of the lines, fixed when the order is placed: later price changes must not touch it.
    total = models.DecimalField(max_digits=14, decimal_places=2)
    shipping_address = models.ForeignKey(
        "customers.Address", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["customer", "created_at"], name="orders_order_customer_created"),
            models.Index(fields=["status"], name="orders_order_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="orders_order_total_non_negative"),
        ]

    def __str__(self) -> str:
        return f"Order {self.id} ({self.status})"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    # The catalog's id, not a foreign key: the catalog may live in another database (docs/seam.md). What the line
    # needs later is copied onto it when the order is placed, so it never has to ask the catalog again.
    product_id = models.BigIntegerField(db_index=True)
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "product_id"], name="orders_line_one_per_product"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="orders_line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x product {self.product_id}"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


class StockHold(models.Model):
    """The order saga's outbox (docs/seam.md): while the inventory service owns inventory, one row per order's
    stock, saying which step the monolith still owes the service. A step is written in the same transaction as the
    change that needs it (or, for `reserve`, committed before the service is asked), and set to `done` only once
    the service has confirmed it, so a crash at any point leaves a row that recovery finishes."""

    class Step(models.TextChoices):
        RESERVE = "reserve"  # the hold is being asked for; no order yet
        ATTACH = "attach"  # the order committed: give it the hold's reservations
        RELEASE = "release"  # the order was cancelled
        FULFIL = "fulfil"  # the order was shipped
        ABANDON = "abandon"  # the order was never placed: release the hold
        DONE = "done"

    key = models.CharField(max_length=64, unique=True)  # the hold's idempotency key at the service
    order = models.OneToOneField(Order, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    lines = models.JSONField(default=dict)  # {product id: quantity}, as asked
    reservation_ids = models.JSONField(null=True, blank=True)  # as the service answered; None until it did
    step = models.CharField(max_length=16, choices=Step.choices)
    attached = models.BooleanField(default=False)  # the service has given the reservations to the order
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["step", "updated_at"], name="orders_stockhold_step_updated")]

    def __str__(self) -> str:
        return f"stock hold {self.key} ({self.step})"
