import django_filters

from orders.models import Order


class OrderFilter(django_filters.FilterSet):
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    customer = django_filters.NumberFilter(field_name="customer_id", label="Customer id (staff)")

    class Meta:
        model = Order
        fields = ["status", "created_after", "created_before", "customer"]
