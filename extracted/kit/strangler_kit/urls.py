"""The URL layout every kit service has: its API under /api/, its OpenAPI schema at /api/schema/, /healthz, and the
API's JSON 404 for any other /api/ path.

    # config/urls.py
    urlpatterns = service_urlpatterns(path("reviews/", include("reviews.urls")))
    handler400, handler403, handler404, handler500 = ERROR_HANDLERS
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from strangler_kit import views

# The monolith's JSON error answers for what Django raises outside DRF.
ERROR_HANDLERS = (
    "strangler_kit.views.bad_request",
    "strangler_kit.views.permission_denied",
    "strangler_kit.views.page_not_found",
    "strangler_kit.views.server_error",
)


def service_urlpatterns(*api: URLPattern | URLResolver) -> list[URLPattern | URLResolver]:
    api_patterns = [
        *api,
        path("schema/", SpectacularAPIView.as_view(), name="schema"),
        # Last: any other /api/ path answers with the API's error shape, whatever DEBUG says.
        re_path(r"^.*$", views.unknown_api_path),
    ]
    return [path("api/", include(api_patterns)), path("healthz", views.healthz, name="healthz")]
