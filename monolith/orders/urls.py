from rest_framework.routers import SimpleRouter

from orders import views

router = SimpleRouter()
router.register("", views.OrderViewSet, basename="order")

urlpatterns = router.urls
