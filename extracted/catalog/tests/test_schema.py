"""The OpenAPI schema at /api/schema/ lists every endpoint the URL configuration serves under /api/."""

import re

from django.urls import URLPattern, URLResolver, get_resolver
from strangler_kit import views as kit_views

# Not endpoints of the shop: the schema itself and the JSON 404 for unknown paths.
NOT_IN_SCHEMA = {"/api/schema/"}


def walk(patterns, prefix=""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and entry.callback is not kit_views.unknown_api_path:
            yield route


def normalise(route: str) -> str:
    route = route.replace("^", "").replace("$", "").replace("\\", "")
    route = re.sub(r"\(\?P<\w+>[^)]*\)", "{}", route)
    route = re.sub(r"<(?:\w+:)?\w+>", "{}", route)
    return "/" + route.lstrip("/")


def test_every_api_url_pattern_appears_in_the_schema(anon, db):
    schema = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    documented = {re.sub(r"\{\w+\}", "{}", p) for p in schema.json()["paths"]}

    served = {normalise(r) for r in walk(get_resolver().url_patterns) if normalise(r).startswith("/api/")}

    assert served - NOT_IN_SCHEMA, "no API routes found"
    assert served - NOT_IN_SCHEMA - documented == set()
    assert documented - served == set()


def test_the_schema_is_served_as_yaml_by_default(anon, db):
    response = anon.get("/api/schema/")
    assert response.status_code == 200
    assert b"openapi:" in response.content


def test_the_schema_generates_without_warnings_and_validates(tmp_path, db):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    assert (tmp_path / "schema.yaml").read_text().startswith("openapi:")
