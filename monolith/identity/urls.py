from django.urls import path

from identity import views

urlpatterns = [path("identity/", views.IdentityView.as_view(), name="forward-auth")]
