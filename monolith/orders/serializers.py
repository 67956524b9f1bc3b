from rest_framework import serializers

from common.integers import IntegerField
from orders.models import Order, OrderLine

MAX_LINES = 100


class OrderLineSerializer(serializers.ModelSerializer):
    product = serializers.IntegerField(source="product_id")
    line_total = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)

    class Meta:
        model = OrderLine
        fields = ["product", "name", "quantity", "unit_price", "line_total"]


class OrderSerializer(serializers.ModelSerializer):
    customer = serializers.IntegerField(source="customer_id")
    shipping_address = serializers.IntegerField(source="shipping_address_id", allow_null=True)
    lines = OrderLineSerializer(many=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "customer",
            "status",
            "currency",
            "total",
            "shipping_address",
            "lines",
            "created_at",
            "updated_at",
            "paid_at",
            "shipped_at",
            "cancelled_at",
        ]
        read_only_fields = fields


class LineRequestSerializer(serializers.Serializer):
    product = IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1, max_value=1000)


class OrderCreateSerializer(serializers.Serializer):
    lines = LineRequestSerializer(many=True, allow_empty=False, max_length=MAX_LINES)
    shipping_address = IntegerField(min_value=1, required=False, allow_null=True)
