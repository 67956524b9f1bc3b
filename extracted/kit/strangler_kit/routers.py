"""The router every app registers its viewsets with: detail routes take their id by the API's one integer rule."""

from __future__ import annotations

from typing import Any

from rest_framework.routers import SimpleRouter

from strangler_kit.integers import ID_CONVERTER


class ApiRouter(SimpleRouter):
    """DRF's SimpleRouter with `<id:pk>` routes: a path id that is not an integer in the database's range matches
    no route and gets the API's 404, instead of reaching a lookup that the database cannot answer."""

    def __init__(self) -> None:
        super().__init__(use_regex_path=False)

    def get_lookup_regex(self, viewset: Any, lookup_prefix: str = "") -> str:
        lookup_field = getattr(viewset, "lookup_field", "pk")
        lookup_url_kwarg = getattr(viewset, "lookup_url_kwarg", None) or lookup_field
        return f"<{ID_CONVERTER}:{lookup_prefix}{lookup_url_kwarg}>"
