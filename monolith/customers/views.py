from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, permissions, serializers, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.request import Request
from rest_framework.response import Response

from customers import selectors, services
from customers.filters import AddressFilter
from customers.models import Address, Customer
from customers.serializers import AddressSerializer, ProfileSerializer, RegistrationSerializer


class RegistrationView(generics.GenericAPIView):
    """Sign up: creates the user and its customer profile and returns a token for it."""

    serializer_class = RegistrationSerializer
    permission_classes = [permissions.AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        responses={
            201: inline_serializer(
                "Registered",
                {
                    "id": serializers.IntegerField(),
                    "username": serializers.CharField(),
                    "token": serializers.CharField(),
                },
            )
        }
    )
    def post(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer = services.customer_register(**serializer.validated_data)
        token = Token.objects.create(user=customer.user)
        body = {"id": customer.id, "username": customer.user.username, "token": token.key}
        return Response(body, status=status.HTTP_201_CREATED)


class ProfileView(generics.RetrieveUpdateAPIView):
    """The caller's own customer profile."""

    serializer_class = ProfileSerializer
    permission_classes = [permissions.IsAuthenticated]

    def get_object(self) -> Customer:
        return services.customer_ensure(user=self.request.user)

    def perform_update(self, serializer: ProfileSerializer) -> None:
        data = dict(serializer.validated_data)
        data.update(data.pop("user", {}))
        serializer.instance = services.customer_update(customer=serializer.instance, data=data)


class AddressViewSet(viewsets.ModelViewSet):
    """The caller's own addresses. Another customer's address answers 404: its existence is not disclosed."""

    serializer_class = AddressSerializer
    permission_classes = [permissions.IsAuthenticated]
    filterset_class = AddressFilter
    ordering_fields = ["created_at", "id"]
    ordering = ["id"]

    def get_queryset(self) -> QuerySet[Address]:
        user: Any = self.request.user
        if isinstance(user, AnonymousUser):  # schema generation
            return Address.objects.none()
        return selectors.address_list(customer_id=selectors.customer_id_for_user(user_id=user.id))

    def perform_create(self, serializer: AddressSerializer) -> None:
        customer = services.customer_ensure(user=self.request.user)
        serializer.instance = services.address_create(customer=customer, **serializer.validated_data)

    def perform_update(self, serializer: AddressSerializer) -> None:
        serializer.instance = services.address_update(address=serializer.instance, data=serializer.validated_data)

    def perform_destroy(self, instance: Address) -> None:
        services.address_delete(address=instance)
