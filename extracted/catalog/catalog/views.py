from django.db.models import QuerySet
from rest_framework import viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.serializers import BaseSerializer
from strangler_kit.permissions import IsStaffOrReadOnly

from catalog import selectors, services
from catalog.filters import CategoryFilter, ProductFilter
from catalog.models import Category, Product
from catalog.serializers import CategorySerializer, ProductSerializer

# JSON only, in every environment: the catalog's paths move to a service, which has no sessions, login page or CSRF
# cookie for DRF's browsable API to use, so neither side offers it (docs/identity.md §4).
RENDERERS = [JSONRenderer]


class CategoryViewSet(viewsets.ModelViewSet):
    """The category tree: anyone reads, staff changes. A category with children or products cannot be deleted."""

    serializer_class = CategorySerializer
    renderer_classes = RENDERERS
    permission_classes = [IsStaffOrReadOnly]
    filterset_class = CategoryFilter
    search_fields = ["name", "slug"]
    ordering_fields = ["name", "created_at", "id"]
    ordering = ["id"]

    def get_queryset(self) -> QuerySet[Category]:
        return selectors.category_list()

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.category_create(**serializer.validated_data)

    def perform_update(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.category_update(category=self.get_object(), data=serializer.validated_data)

    def perform_destroy(self, instance: Category) -> None:
        services.category_delete(category=instance)


class ProductViewSet(viewsets.ModelViewSet):
    """Products: anyone reads active ones, staff also sees inactive ones and changes them."""

    serializer_class = ProductSerializer
    renderer_classes = RENDERERS
    permission_classes = [IsStaffOrReadOnly]
    filterset_class = ProductFilter
    search_fields = ["name", "sku", "description"]
    ordering_fields = ["price", "name", "created_at", "id"]
    ordering = ["id"]

    def get_queryset(self) -> QuerySet[Product]:
        return selectors.product_list(include_inactive=self.request.user.is_staff)

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.product_create(**serializer.validated_data)

    def perform_update(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.product_update(product=self.get_object(), data=serializer.validated_data)

    def perform_destroy(self, instance: Product) -> None:
        services.product_delete(product=instance)
