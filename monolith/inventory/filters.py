import django_filters

from common.filters import BooleanFilter
from inventory.models import Reservation, Stock, Warehouse


class WarehouseFilter(django_filters.FilterSet):
    active = BooleanFilter(field_name="active")
    country = django_filters.CharFilter(field_name="country", lookup_expr="iexact")

    class Meta:
        model = Warehouse
        fields = ["active", "country"]


class StockFilter(django_filters.FilterSet):
    product = django_filters.NumberFilter(field_name="product_id")
    warehouse = django_filters.NumberFilter(field_name="warehouse_id")

    class Meta:
        model = Stock
        fields = ["product", "warehouse"]


class ReservationFilter(django_filters.FilterSet):
    product = django_filters.NumberFilter(field_name="product_id")
    warehouse = django_filters.NumberFilter(field_name="warehouse_id")
    order = django_filters.NumberFilter(field_name="order_id")

    class Meta:
        model = Reservation
        fields = ["product", "warehouse", "order", "status"]
