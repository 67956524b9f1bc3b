"""The API's judgement of a request's credentials, made by one view for two callers: the proxy asking about a
client's request (forward auth, `views.IdentityView`) and the monolith about its own (`middleware.CredentialsFirst`).
Both get the same answer: the user, or the API's refusal — status, body, and the headers the endpoint asked about
sends with every answer — whatever the path, the method or the Accept header (docs/identity.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from django.urls import Resolver404, resolve
from django.utils.cache import patch_vary_headers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class CredentialsJudge(APIView):
    """200 {"user": null | {"id", "username", "is_staff"}} for credentials the API accepts; otherwise the API's
    401 (an invalid token) or 403 (a session-authenticated unsafe request without a valid CSRF token)."""

    permission_classes = [AllowAny]
    # authentication_classes stay the API's defaults: the same checks, the same WWW-Authenticate on a 401.
    # JSON whatever the client accepts: credentials are judged before the request's format is.
    renderer_classes = [JSONRenderer]

    def original_method(self, request: Request) -> str:
        raise NotImplementedError

    def original_uri(self, request: Request) -> str:
        raise NotImplementedError

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str] | tuple[BaseContentNegotiation, str]:
        return super().perform_content_negotiation(request, force=True)

    def perform_authentication(self, request: Request) -> None:
        """Deferred to `judge`: the CSRF check must see the original method."""

    def judge(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        request._request.method = self.original_method(request)
        user = request.user  # raises the API's AuthenticationFailed, or PermissionDenied for a failed CSRF check
        if not user.is_authenticated:
            return Response({"user": None})
        return Response({"user": self.user_answer(user)})

    def user_answer(self, user: Any) -> dict[str, Any]:
        """What the answer says about an authenticated user."""
        return {"id": user.id, "username": user.get_username(), "is_staff": user.is_staff}

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        # The API's answer names the methods (and the formats) of the endpoint asked about, not of this view.
        del response["Allow"]
        headers = endpoint_headers(self.original_uri(request))
        if "Allow" in headers:
            response["Allow"] = headers["Allow"]
        if "Vary" in headers:
            patch_vary_headers(response, [headers["Vary"]])
        return response


def endpoint_headers(uri: str) -> dict[str, str]:
    """What DRF sends with every answer of the API view serving `uri` (`Allow`, and `Vary: Accept` when it has
    several renderers); nothing when no API view serves it."""
    try:
        match = resolve(unquote(uri.partition("?")[0]))
    except Resolver404:
        return {}
    view_class = getattr(match.func, "cls", None)
    if view_class is None or not issubclass(view_class, APIView):
        return {}
    view = view_class(**getattr(match.func, "initkwargs", {}))
    actions = dict(getattr(match.func, "actions", None) or {})
    if "get" in actions:
        actions.setdefault("head", actions["get"])
    for method, action in actions.items():  # what ViewSetMixin.as_view binds for each request
        setattr(view, method, getattr(view, action))
    if hasattr(view, "get") and not hasattr(view, "head"):
        view.head = view.get
    return dict(view.default_response_headers)
