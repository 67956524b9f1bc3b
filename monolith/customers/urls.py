from django.urls import path
from rest_framework.routers import SimpleRouter

from customers import views

router = SimpleRouter()
router.register("addresses", views.AddressViewSet, basename="address")

urlpatterns = [
    path("register/", views.RegistrationView.as_view(), name="customer-register"),
    path("me/", views.ProfileView.as_view(), name="customer-me"),
    *router.urls,
]
