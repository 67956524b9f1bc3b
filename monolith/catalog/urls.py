from catalog import views
from common.routers import ApiRouter

router = ApiRouter()
router.register("categories", views.CategoryViewSet, basename="category")
router.register("products", views.ProductViewSet, basename="product")

urlpatterns = router.urls
