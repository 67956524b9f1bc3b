from django.urls import path

from common.routers import ApiRouter
from customers import views

router = ApiRouter()
router.register("addresses", views.AddressViewSet, basename="address")

urlpatterns = [
    path("register/", views.RegistrationView.as_view(), name="customer-register"),
    path("me/", views.ProfileView.as_view(), name="customer-me"),
    *router.urls,
]
