import django_filters

from common.filters import BooleanFilter, FilterSet, IntegerFilter
from inventory.models import Reservation, Stock, Warehouse


class WarehouseFilter(FilterSet):
    active = BooleanFilter(field_name="active")
    country = django_filters.CharFilter(field_name="country", lookup_expr="iexact")

    class Meta:
        model = Warehouse
        fields = ["active", "country"]


class StockFilter(FilterSet):
    product = IntegerFilter(field_name="product_id")
    warehouse = IntegerFilter(field_name="warehouse_id")

    class Meta:
        model = Stock
        fields = ["product", "warehouse"]


class ReservationFilter(FilterSet):
    product = IntegerFilter(field_name="product_id")
    warehouse = IntegerFilter(field_name="warehouse_id")
    order = IntegerFilter(field_name="order_id")

    class Meta:
        model = Reservation
        fields = ["product", "warehouse", "order", "status"]
