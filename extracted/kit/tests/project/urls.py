from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from strangler_kit import errors
from strangler_kit.integers import IntegerField
from strangler_kit.permissions import IsStaffOrReadOnly
from strangler_kit.routers import ApiRouter
from strangler_kit.urls import ERROR_HANDLERS, service_urlpatterns

NUMBERS = list(range(1, 46))
REFUSALS = {1: errors.InvalidInput, 2: errors.NotFound, 3: errors.Conflict}


class CountSerializer(serializers.Serializer):
    count = IntegerField(min_value=1)


class NumberViewSet(viewsets.GenericViewSet):
    """Anyone lists numbers (paginated); staff "write" one (a validated body); a number names a refusal."""

    permission_classes = [IsStaffOrReadOnly]

    def list(self, request: Request) -> Response:
        return self.get_paginated_response(self.paginate_queryset(NUMBERS))

    def create(self, request: Request) -> Response:
        serializer = CountSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response({"count": serializer.validated_data["count"], "by": request.user.username}, status=201)

    def retrieve(self, request: Request, pk: int) -> Response:
        if pk in REFUSALS:
            raise REFUSALS[pk]("Refused.", fields={"number": ["Not this one."]} if pk == 1 else None)
        return Response({"number": pk})


router = ApiRouter()
router.register("numbers", NumberViewSet, basename="number")

urlpatterns = service_urlpatterns(*router.urls)

handler400, handler403, handler404, handler500 = ERROR_HANDLERS
