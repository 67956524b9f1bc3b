import django_filters
from django.db.models import QuerySet

from catalog import selectors
from catalog.models import Category, Product
from common.filters import BooleanFilter, FilterSet, IntegerFilter


class CategoryFilter(FilterSet):
    parent = IntegerFilter(field_name="parent_id")
    root = BooleanFilter(field_name="parent", lookup_expr="isnull", label="Only top-level categories")

    class Meta:
        model = Category
        fields = ["parent", "root"]


class ProductFilter(FilterSet):
    category = IntegerFilter(field_name="category_id", label="Directly in this category")
    in_category = IntegerFilter(method="filter_in_category", label="In this category or below it")
    min_price = django_filters.NumberFilter(field_name="price", lookup_expr="gte")
    max_price = django_filters.NumberFilter(field_name="price", lookup_expr="lte")
    currency = django_filters.CharFilter(field_name="currency", lookup_expr="iexact")
    active = BooleanFilter(field_name="active")

    class Meta:
        model = Product
        fields = ["category", "in_category", "active", "min_price", "max_price", "currency"]

    def filter_in_category(self, queryset: QuerySet[Product], name: str, value: int) -> QuerySet[Product]:
        return queryset.filter(category_id__in=selectors.category_descendant_ids(category_id=value))
