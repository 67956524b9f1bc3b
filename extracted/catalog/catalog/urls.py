from strangler_kit.routers import ApiRouter

from catalog import views

router = ApiRouter()
router.register("categories", views.CategoryViewSet, basename="category")
router.register("products", views.ProductViewSet, basename="product")

urlpatterns = router.urls
