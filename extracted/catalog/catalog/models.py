from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

currency_code = RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO 4217 code in capitals, e.g. EUR.")


class Category(models.Model):
    """A node of the category tree; roots have no parent."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    currency = models.CharField(max_length=3, default="EUR", validators=[currency_code])
    active = models.BooleanField(default=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["price"], name="catalog_product_price_idx"),
            models.Index(fields=["name"], name="catalog_product_name_idx"),
            models.Index(fields=["created_at"], name="catalog_product_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="catalog_product_price_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"
