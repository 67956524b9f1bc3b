"""Vary: Cookie wherever the monolith would send it, so that caches treat both the same (see authentication)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers


class VaryLikeTheMonolith:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, "would_read_session", False):
            patch_vary_headers(response, ("Cookie",))
        return response
