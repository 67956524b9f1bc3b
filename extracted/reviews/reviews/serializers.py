from rest_framework import serializers
from strangler_kit.integers import IntegerField

from reviews.models import MAX_RATING, MIN_RATING, Review


class ReviewSerializer(serializers.ModelSerializer):
    product = IntegerField(source="product_id", min_value=1)
    customer = serializers.IntegerField(source="customer_id", read_only=True)
    rating = serializers.IntegerField(min_value=MIN_RATING, max_value=MAX_RATING)

    class Meta:
        model = Review
        fields = ["id", "product", "customer", "rating", "title", "body", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class ReviewUpdateSerializer(ReviewSerializer):
    product = serializers.IntegerField(source="product_id", read_only=True)


class RatingSummarySerializer(serializers.Serializer):
    product = serializers.IntegerField(source="product_id")
    count = serializers.IntegerField()
    average = serializers.FloatField(allow_null=True)
