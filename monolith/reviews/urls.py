from rest_framework.routers import SimpleRouter

from reviews import views

router = SimpleRouter()
router.register("", views.ReviewViewSet, basename="review")

urlpatterns = router.urls
