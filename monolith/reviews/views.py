from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from common.integers import InvalidInteger, parse_integer
from customers import selectors as customer_selectors
from customers import services as customer_services
from reviews import relay, seam, selectors, services
from reviews.filters import ReviewFilter
from reviews.models import Review
from reviews.serializers import RatingSummarySerializer, ReviewSerializer, ReviewUpdateSerializer


class IsAuthorOrStaffDeletes(permissions.BasePermission):
    """Reviews are public, so someone else's review answers 403 (it is visible), not 404. Staff may delete any
    review (moderation) but not put words in a customer's mouth."""

    def has_permission(self, request: Request, view: object) -> bool:
        return request.method in permissions.SAFE_METHODS or bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request: Request, view: object, obj: Review) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        if request.method == "DELETE" and request.user.is_staff:
            return True
        return obj.customer_id == customer_selectors.customer_id_for_user(user_id=request.user.id)


class ReviewViewSet(viewsets.ModelViewSet):
    """Product reviews: anyone reads them, a signed-in customer writes one per product and changes only their own."""

    permission_classes = [IsAuthorOrStaffDeletes]
    filterset_class = ReviewFilter
    search_fields = ["title", "body"]
    ordering_fields = ["created_at", "rating", "id"]
    ordering = ["-id"]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        service_owns = seam.service_owns_reviews()
        if service_owns:
            self.body = request._request.body  # read before any parser reads the stream: it is sent on as it came
        super().initial(request, *args, **kwargs)  # the monolith judges the credentials, as it always did
        if service_owns:
            # From cutover on the service owns reviews: whatever this request asks, the service answers it.
            setattr(self, request.method.lower(), self.relay_to_the_service)

    def relay_to_the_service(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        return relay.relay(request, self.body, seam.reviews_service(), key=settings.STRANGLER_IDENTITY_KEY)

    def get_queryset(self) -> QuerySet[Review]:
        return selectors.review_list()

    def get_serializer_class(self) -> type[BaseSerializer]:
        return ReviewUpdateSerializer if self.action in {"update", "partial_update"} else ReviewSerializer

    def perform_create(self, serializer: BaseSerializer) -> None:
        customer_id = customer_services.customer_id_for_user(user=self.request.user)
        serializer.instance = services.review_create(customer_id=customer_id, **serializer.validated_data)

    def perform_update(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.review_update(review=serializer.instance, data=serializer.validated_data)

    def perform_destroy(self, instance: Review) -> None:
        services.review_delete(review=instance)

    @extend_schema(
        parameters=[OpenApiParameter("product", OpenApiTypes.INT, required=True)],
        responses=RatingSummarySerializer,
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def summary(self, request: Request) -> Response:
        """Number of reviews and average rating of one product."""
        raw = request.query_params.get("product", "")
        try:
            product_id = parse_integer(raw)
        except InvalidInteger as exc:
            raise ValidationError({"product": [str(exc) if raw else "A product id is required."]}) from exc
        return Response(RatingSummarySerializer(selectors.rating_summary(product_id=product_id)).data)
