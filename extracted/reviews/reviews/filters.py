from strangler_kit.filters import FilterSet, IntegerFilter

from reviews.models import Review


class ReviewFilter(FilterSet):
    product = IntegerFilter(field_name="product_id")
    customer = IntegerFilter(field_name="customer_id")
    min_rating = IntegerFilter(field_name="rating", lookup_expr="gte")

    class Meta:
        model = Review
        fields = ["product", "customer", "rating", "min_rating"]
