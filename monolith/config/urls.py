from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.authtoken.views import obtain_auth_token

from common import views as common_views

api_patterns = [
    path("auth/token/", obtain_auth_token, name="auth-token"),
    path("catalog/", include("catalog.urls")),
    path("inventory/", include("inventory.urls")),
    path("customers/", include("customers.urls")),
    path("orders/", include("orders.urls")),
    path("reviews/", include("reviews.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Last: any other /api/ path answers with the API's error shape, whatever DEBUG says.
    re_path(r"^.*$", common_views.unknown_api_path),
]

urlpatterns = [
    path("api/", include(api_patterns)),
    path("api-auth/", include("rest_framework.urls")),
    # Forward auth for the proxy (docs/identity.md).
    path("internal/", include("identity.urls")),
    path("admin/", admin.site.urls),
    path("healthz", common_views.healthz, name="healthz"),
]

handler400 = "common.views.bad_request"
handler403 = "common.views.permission_denied"
handler404 = "common.views.page_not_found"
handler500 = "common.views.server_error"
