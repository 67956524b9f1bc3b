"""Every /api/ error, from DRF or from Django itself, carries the one error body the monolith uses."""

import pytest
from django.test import override_settings
from django.urls import path
from rest_framework.test import APIClient
from strangler_kit import views as kit_views
from strangler_kit.testing import assert_error

PRODUCTS = "/api/catalog/products/"


def test_an_unknown_api_path_is_a_json_404(anon, db):
    error = assert_error(anon.get("/api/no-such-thing/"), 404, "not_found")
    assert "/api/no-such-thing/" in error["message"]


def test_an_unknown_api_path_is_json_even_with_debug_on(anon, db, settings):
    settings.DEBUG = True
    assert_error(anon.get("/api/catalog/nope/"), 404, "not_found")


def test_a_path_of_the_monolith_that_the_service_does_not_serve_is_a_json_404(anon, db):
    assert_error(anon.get("/api/orders/"), 404, "not_found")


def test_a_method_the_endpoint_does_not_allow_is_a_405(client_for, charlie, db):
    response = client_for(charlie).put(PRODUCTS, {})
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET, POST, HEAD, OPTIONS"


def test_an_unsupported_content_type_is_a_415(client_for, charlie, db):
    response = client_for(charlie).post(PRODUCTS, data="<xml/>", content_type="application/xml")
    assert_error(response, 415, "unsupported_media_type")


def boom(request):
    raise RuntimeError("a bug")


urlpatterns = [path("api/boom/", boom)]
handler500 = "strangler_kit.views.server_error"


@override_settings(ROOT_URLCONF=__name__)
def test_an_unhandled_exception_on_the_api_is_a_json_500(db):
    client = APIClient(raise_request_exception=False)
    assert_error(client.get("/api/boom/"), 500, "server_error")


@pytest.mark.parametrize(
    ("handler", "status", "code"),
    [("bad_request", 400, "bad_request"), ("permission_denied", 403, "permission_denied")],
)
def test_django_level_400_and_403_on_the_api_use_the_error_shape(rf, handler, status, code):
    response = getattr(kit_views, handler)(rf.get("/api/catalog/products/"), Exception())
    assert_error(response, status, code)


def test_django_level_errors_outside_the_api_stay_html(rf):
    response = kit_views.server_error(rf.get("/elsewhere/"))
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
