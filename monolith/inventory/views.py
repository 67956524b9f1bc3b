from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import selectors as catalog_selectors
from common.errors import NotFound
from common.permissions import IsStaff
from inventory import selectors, services
from inventory.filters import ReservationFilter, StockFilter, WarehouseFilter
from inventory.models import Reservation, Stock, Warehouse
from inventory.serializers import (
    AvailabilitySerializer,
    ReservationSerializer,
    StockSerializer,
    StockUpdateSerializer,
    WarehouseSerializer,
)


class WarehouseViewSet(viewsets.ModelViewSet):
    """Warehouses (staff only)."""

    serializer_class = WarehouseSerializer
    permission_classes = [IsStaff]
    filterset_class = WarehouseFilter
    search_fields = ["code", "name", "city"]
    ordering_fields = ["code", "name", "id"]
    ordering = ["id"]

    def get_queryset(self) -> QuerySet[Warehouse]:
        return selectors.warehouse_list()

    def perform_create(self, serializer: WarehouseSerializer) -> None:
        serializer.instance = services.warehouse_create(**serializer.validated_data)

    def perform_update(self, serializer: WarehouseSerializer) -> None:
        serializer.instance = services.warehouse_update(warehouse=serializer.instance, data=serializer.validated_data)

    def perform_destroy(self, instance: Warehouse) -> None:
        services.warehouse_delete(warehouse=instance)


class StockViewSet(viewsets.ModelViewSet):
    """Units on hand per product and warehouse (staff only). Only the quantity of a stock record changes."""

    serializer_class = StockSerializer
    permission_classes = [IsStaff]
    filterset_class = StockFilter
    ordering_fields = ["quantity", "id"]
    ordering = ["id"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Stock]:
        return selectors.stock_list()

    def perform_create(self, serializer: StockSerializer) -> None:
        stock = services.stock_create(**serializer.validated_data)
        serializer.instance = self.get_queryset().get(id=stock.id)

    @extend_schema(request=StockUpdateSerializer, responses=StockSerializer)
    def partial_update(self, request: Request, *args: object, **kwargs: object) -> Response:
        stock = self.get_object()
        update = StockUpdateSerializer(data=request.data)
        update.is_valid(raise_exception=True)
        services.stock_set_quantity(stock=stock, quantity=update.validated_data["quantity"])
        return Response(self.get_serializer(self.get_queryset().get(id=stock.id)).data)

    def perform_destroy(self, instance: Stock) -> None:
        services.stock_delete(stock=instance)


class ReservationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Stock held for orders (made by the orders app) or by staff by hand; released rather than deleted."""

    serializer_class = ReservationSerializer
    permission_classes = [IsStaff]
    filterset_class = ReservationFilter
    ordering_fields = ["created_at", "id"]
    ordering = ["id"]

    def get_queryset(self) -> QuerySet[Reservation]:
        return selectors.reservation_list()

    def perform_create(self, serializer: ReservationSerializer) -> None:
        data = serializer.validated_data
        serializer.instance = services.reservation_create(
            product_id=data["product_id"], warehouse=data["warehouse"], quantity=data["quantity"]
        )

    @extend_schema(request=None, responses=ReservationSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: str | None = None) -> Response:
        reservation = services.reservation_release(reservation=self.get_object())
        return Response(self.get_serializer(reservation).data, status=status.HTTP_200_OK)


class AvailabilityView(APIView):
    """Units of an active product free to sell across active warehouses. Anyone may ask."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(responses=AvailabilitySerializer)
    def get(self, request: Request, product_id: int) -> Response:
        if not catalog_selectors.product_exists(product_id=product_id, active_only=True):
            raise NotFound(f"No product with id {product_id}.")
        available = selectors.available_by_product(product_ids=[product_id])[product_id]
        return Response(AvailabilitySerializer({"product": product_id, "available": available}).data)
