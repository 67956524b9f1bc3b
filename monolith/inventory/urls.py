from django.urls import path

from common.integers import ID_CONVERTER
from common.routers import ApiRouter
from inventory import views

router = ApiRouter()
router.register("warehouses", views.WarehouseViewSet, basename="warehouse")
router.register("stock", views.StockViewSet, basename="stock")
router.register("reservations", views.ReservationViewSet, basename="reservation")

urlpatterns = [
    path(f"availability/<{ID_CONVERTER}:product_id>/", views.AvailabilityView.as_view(), name="availability"),
    *router.urls,
]
