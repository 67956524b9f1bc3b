import django_filters

from common.filters import BooleanFilter, FilterSet
from customers.models import Address


class AddressFilter(FilterSet):
    is_default = BooleanFilter(field_name="is_default")
    country = django_filters.CharFilter(field_name="country", lookup_expr="iexact")

    class Meta:
        model = Address
        fields = ["is_default", "country"]
