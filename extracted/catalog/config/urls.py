from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from common import views as common_views

api_patterns = [
    path("catalog/", include("catalog.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Last: any other /api/ path answers with the API's error shape, whatever DEBUG says.
    re_path(r"^.*$", common_views.unknown_api_path),
]

urlpatterns = [
    path("api/", include(api_patterns)),
    path("healthz", common_views.healthz, name="healthz"),
]

handler400 = "common.views.bad_request"
handler403 = "common.views.permission_denied"
handler404 = "common.views.page_not_found"
handler500 = "common.views.server_error"
