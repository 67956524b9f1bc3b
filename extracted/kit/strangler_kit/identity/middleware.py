"""Vary: Cookie wherever the monolith would send it, so that caches treat both the same (see authentication); and
credentials first, as in the monolith."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from rest_framework.request import Request
from rest_framework.response import Response

from strangler_kit.error_body import is_api_request
from strangler_kit.identity.credentials import CredentialsJudge


class VaryLikeTheMonolith:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, "would_read_session", False):
            patch_vary_headers(response, ("Cookie",))
        return response


# What the proxy passes on from the client (or its word that it withheld the client's credentials, naming their
# kinds), and the identity it adds: with none of them, nothing to judge.
CREDENTIAL_HEADERS = ("HTTP_AUTHORIZATION", "HTTP_COOKIE", "HTTP_X_STRANGLER_CREDENTIALS", "HTTP_X_STRANGLER_IDENTITY")


class _OwnRequest(CredentialsJudge):
    """The judge, asked about the request it receives, whatever its method."""

    http_method_names: list[str] = []  # every method lands in http_method_not_allowed, that is: in `judge`

    def http_method_not_allowed(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.judge(request)

    def original_uri(self, request: Request) -> str:
        return request._request.get_full_path()


_judge = _OwnRequest.as_view()


class CredentialsFirst:
    """On every /api/ path the identity is judged before anything else about the request (its URL, its method, its
    format), as the monolith judges a token: one that does not verify is a 401 on every API path, a known one or
    not. Judging also marks where the monolith would read its session (`VaryLikeTheMonolith`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_request(request) and any(request.META.get(name) for name in CREDENTIAL_HEADERS):
            answer = _judge(request)
            if answer.status_code >= 400:
                answer.render()
                return answer
        return self.get_response(request)
