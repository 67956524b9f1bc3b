from django.urls import include, path
from strangler_kit.urls import ERROR_HANDLERS, service_urlpatterns

urlpatterns = service_urlpatterns(path("catalog/", include("catalog.urls")))

handler400, handler403, handler404, handler500 = ERROR_HANDLERS
