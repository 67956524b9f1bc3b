from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView
from strangler_kit import settings as kit
from strangler_kit import views as kit_views

api_patterns = [
    path("catalog/", include("catalog.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Last: any other /api/ path answers with the API's error shape, whatever DEBUG says.
    re_path(r"^.*$", kit_views.unknown_api_path),
]

urlpatterns = [
    path("api/", include(api_patterns)),
    path("healthz", kit_views.healthz, name="healthz"),
]

handler400 = kit.HANDLER400
handler403 = kit.HANDLER403
handler404 = kit.HANDLER404
handler500 = kit.HANDLER500
