from rest_framework import serializers

from common.integers import IntegerField
from inventory.models import Reservation, Stock, Warehouse

# Quantities are `integer` columns on PostgreSQL: the same ceiling on every engine, so that SQLite does not accept
# what PostgreSQL cannot store, and neither reaches the database with it.
MAX_QUANTITY = 2**31 - 1


class WarehouseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Warehouse
        fields = ["id", "code", "name", "city", "country", "active", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class StockSerializer(serializers.ModelSerializer):
    # Products are another app's: referenced by id and checked by the service, not through the catalog's model.
    product = IntegerField(source="product_id", min_value=1)
    reserved = serializers.IntegerField(read_only=True)
    available = serializers.IntegerField(read_only=True)

    class Meta:
        model = Stock
        fields = ["id", "product", "warehouse", "quantity", "reserved", "available", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        # Required although the model has a default: a record made without saying how many units are on hand is
        # a client's mistake (400), never a silent 0; the inventory service refuses it the same way.
        extra_kwargs = {"quantity": {"required": True, "max_value": MAX_QUANTITY}}
        # A second record for a product and warehouse is the service's 409 `exists`, not DRF's 400 from the
        # model's unique constraint.
        validators: list[object] = []


class StockUpdateSerializer(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=0, max_value=MAX_QUANTITY)


class ReservationSerializer(serializers.ModelSerializer):
    product = IntegerField(source="product_id", min_value=1)
    order = serializers.IntegerField(source="order_id", read_only=True)

    class Meta:
        model = Reservation
        fields = ["id", "product", "warehouse", "quantity", "order", "status", "created_at", "updated_at"]
        read_only_fields = ["status", "created_at", "updated_at"]
        extra_kwargs = {"quantity": {"min_value": 1, "max_value": MAX_QUANTITY}}


class AvailabilitySerializer(serializers.Serializer):
    product = serializers.IntegerField()
    available = serializers.IntegerField()
