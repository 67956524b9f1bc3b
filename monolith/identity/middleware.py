"""Credentials first: on every /api/ path the monolith judges a request's credentials before anything else about
it (its URL, its method, its format), exactly as forward auth judges them for the proxy. A client then gets the
same answer whether the monolith or, through the proxy, a service serves the path: an invalid token is a 401 on
every API path, a known one or not (docs/identity.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request
from rest_framework.response import Response

from common.error_body import is_api_request
from identity.credentials import CredentialsJudge

# The proxy's rule too: a request with neither (or only empty ones) is anonymous without asking.
CREDENTIAL_HEADERS = ("HTTP_AUTHORIZATION", "HTTP_COOKIE")


class _OwnRequest(CredentialsJudge):
    """The judge, asked about the request it receives, whatever its method."""

    http_method_names: list[str] = []  # every method lands in http_method_not_allowed, that is: in `judge`

    def http_method_not_allowed(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.judge(request)

    def original_method(self, request: Request) -> str:
        return request.method or "GET"

    def original_uri(self, request: Request) -> str:
        return request._request.get_full_path()


_judge = _OwnRequest.as_view()


class CredentialsFirst:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_request(request) and any(request.META.get(name) for name in CREDENTIAL_HEADERS):
            answer = _judge(request)
            if answer.status_code >= 400:
                answer.render()
                return answer
        return self.get_response(request)
