from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from common.permissions import IsStaff
from customers import selectors as customer_selectors
from customers import services as customer_services
from orders import selectors, services
from orders.filters import OrderFilter
from orders.models import Order
from orders.serializers import OrderCreateSerializer, OrderSerializer


class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A customer's own orders (staff see all). Another customer's order answers 404, as if it did not exist.

    Orders are placed with POST and then only move through their lifecycle: pay, ship (staff), cancel.
    """

    serializer_class = OrderSerializer
    permission_classes = [permissions.IsAuthenticated]
    filterset_class = OrderFilter
    ordering_fields = ["created_at", "total", "id"]
    ordering = ["-id"]

    def get_queryset(self) -> QuerySet[Order]:
        user: Any = self.request.user
        if isinstance(user, AnonymousUser):  # schema generation
            return Order.objects.none()
        customer_id = customer_selectors.customer_id_for_user(user_id=user.id)
        return selectors.order_list(customer_id=customer_id, everyone=user.is_staff)

    @extend_schema(request=OrderCreateSerializer, responses={201: OrderSerializer})
    def create(self, request: Request) -> Response:
        serializer = OrderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        order = services.order_create(
            customer_id=customer_services.customer_id_for_user(user=request.user),
            lines=[
                services.LineRequest(product_id=line["product"], quantity=line["quantity"]) for line in data["lines"]
            ],
            shipping_address_id=data.get("shipping_address"),
        )
        return Response(self._render(order), status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=OrderSerializer)
    @action(detail=True, methods=["post"])
    def pay(self, request: Request, pk: str | None = None) -> Response:
        return Response(self._render(services.order_pay(order=self.get_object())))

    @extend_schema(request=None, responses=OrderSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsStaff])
    def ship(self, request: Request, pk: str | None = None) -> Response:
        return Response(self._render(services.order_ship(order=self.get_object())))

    @extend_schema(request=None, responses=OrderSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        return Response(self._render(services.order_cancel(order=self.get_object())))

    def _render(self, order: Order) -> dict[str, Any]:
        return OrderSerializer(selectors.order_list(customer_id=None, everyone=True).get(id=order.id)).data
