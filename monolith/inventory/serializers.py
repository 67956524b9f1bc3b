from rest_framework import serializers

from inventory.models import Reservation, Stock, Warehouse


class WarehouseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Warehouse
        fields = ["id", "code", "name", "city", "country", "active", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class StockSerializer(serializers.ModelSerializer):
    # Products are another app's: referenced by id and checked by the service, not through the catalog's model.
    product = serializers.IntegerField(source="product_id", min_value=1)
    reserved = serializers.IntegerField(read_only=True)
    available = serializers.IntegerField(read_only=True)

    class Meta:
        model = Stock
        fields = ["id", "product", "warehouse", "quantity", "reserved", "available", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class StockUpdateSerializer(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=0)


class ReservationSerializer(serializers.ModelSerializer):
    product = serializers.IntegerField(source="product_id", min_value=1)
    order = serializers.IntegerField(source="order_id", read_only=True)

    class Meta:
        model = Reservation
        fields = ["id", "product", "warehouse", "quantity", "order", "status", "created_at", "updated_at"]
        read_only_fields = ["status", "created_at", "updated_at"]
        extra_kwargs = {"quantity": {"min_value": 1}}


class AvailabilitySerializer(serializers.Serializer):
    product = serializers.IntegerField()
    available = serializers.IntegerField()
