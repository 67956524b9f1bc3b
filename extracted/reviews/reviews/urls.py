from strangler_kit.routers import ApiRouter

from reviews import views

router = ApiRouter()
router.register("", views.ReviewViewSet, basename="review")

urlpatterns = router.urls
