from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from strangler_kit.filters import BooleanFilter, FilterSet, IntegerFilter
from strangler_kit.integers import InvalidInteger, parse_integer
from strangler_kit.pagination import MAX_PAGE_SIZE

from catalog import selectors
from catalog.models import Category, Product

# One batch is one page: a caller asking for up to this many ids gets them all with `page_size` set to as many.
MAX_IDS = MAX_PAGE_SIZE


class IdListField(forms.Field):
    """`?ids=3,5,8`: ids by the API's integer rule, comma-separated, at most MAX_IDS (more is a 400, not a cap)."""

    widget = forms.TextInput

    def to_python(self, value: Any) -> list[int] | None:
        if value in self.empty_values:
            return None
        parts = str(value).split(",")
        if len(parts) > MAX_IDS:
            raise forms.ValidationError(f"Ask for at most {MAX_IDS} ids at once (not {len(parts)}).", code="invalid")
        try:
            return [parse_integer(part) for part in parts]
        except InvalidInteger as exc:
            raise forms.ValidationError(f"Give ids separated by commas. {exc}", code="invalid") from exc


class IdListFilter(django_filters.Filter):
    field_class = IdListField


class CategoryFilter(FilterSet):
    parent = IntegerFilter(field_name="parent_id")
    root = BooleanFilter(field_name="parent", lookup_expr="isnull", label="Only top-level categories")

    class Meta:
        model = Category
        fields = ["parent", "root"]


class ProductFilter(FilterSet):
    # The batch lookup of the monolith's seam (docs/seam.md): the products among these ids, in one request.
    ids = IdListFilter(field_name="id", lookup_expr="in", label="Only these ids (comma-separated, at most 100)")
    category = IntegerFilter(field_name="category_id", label="Directly in this category")
    in_category = IntegerFilter(method="filter_in_category", label="In this category or below it")
    min_price = django_filters.NumberFilter(field_name="price", lookup_expr="gte")
    max_price = django_filters.NumberFilter(field_name="price", lookup_expr="lte")
    currency = django_filters.CharFilter(field_name="currency", lookup_expr="iexact")
    active = BooleanFilter(field_name="active")

    class Meta:
        model = Product
        fields = ["ids", "category", "in_category", "active", "min_price", "max_price", "currency"]

    def filter_in_category(self, queryset: QuerySet[Product], name: str, value: int) -> QuerySet[Product]:
        return queryset.filter(category_id__in=selectors.category_descendant_ids(category_id=value))
