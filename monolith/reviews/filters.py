import django_filters

from reviews.models import Review


class ReviewFilter(django_filters.FilterSet):
    product = django_filters.NumberFilter(field_name="product_id")
    customer = django_filters.NumberFilter(field_name="customer_id")
    min_rating = django_filters.NumberFilter(field_name="rating", lookup_expr="gte")

    class Meta:
        model = Review
        fields = ["product", "customer", "rating", "min_rating"]
