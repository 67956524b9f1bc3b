from common.routers import ApiRouter
from orders import views

router = ApiRouter()
router.register("", views.OrderViewSet, basename="order")

urlpatterns = router.urls
