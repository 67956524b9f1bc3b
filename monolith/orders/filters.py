import django_filters

from common.filters import FilterSet, IntegerFilter
from orders.models import Order


class OrderFilter(FilterSet):
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    customer = IntegerFilter(field_name="customer_id", label="Customer id (staff)")

    class Meta:
        model = Order
        fields = ["status", "created_after", "created_before", "customer"]
