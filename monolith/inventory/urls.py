from django.urls import path
from rest_framework.routers import SimpleRouter

from inventory import views

router = SimpleRouter()
router.register("warehouses", views.WarehouseViewSet, basename="warehouse")
router.register("stock", views.StockViewSet, basename="stock")
router.register("reservations", views.ReservationViewSet, basename="reservation")

urlpatterns = [
    path("availability/<int:product_id>/", views.AvailabilityView.as_view(), name="availability"),
    *router.urls,
]
