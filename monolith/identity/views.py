"""Forward auth for the proxy (docs/identity.md): who the credentials of a client's request name, judged
exactly as the API would judge them, so that a refusal can be sent to the client unchanged."""

from __future__ import annotations

from typing import Any

from django.urls import Resolver404, resolve
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

ORIGINAL_METHOD_HEADER = "X-Original-Method"
ORIGINAL_URI_HEADER = "X-Original-URI"
METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "POST", "PUT", "PATCH", "DELETE"})


class IdentityView(APIView):
    """GET with the client's Authorization/Cookie (and CSRF) headers and X-Original-Method: 200 {"user": …}, or
    the API's own 401/403 for those credentials."""

    permission_classes = [AllowAny]
    # authentication_classes stay the API's defaults: the same checks, the same WWW-Authenticate on a 401.

    def perform_authentication(self, request: Request) -> None:
        """Deferred to `get`: the CSRF check must see the original method, not this GET."""

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        method = request.headers.get(ORIGINAL_METHOD_HEADER, "").upper()
        if method not in METHODS:
            raise ValidationError({ORIGINAL_METHOD_HEADER: ["Give the method of the request being authorised."]})
        request._request.method = method
        user = request.user  # raises the API's AuthenticationFailed, or PermissionDenied for a failed CSRF check
        if not user.is_authenticated:
            return Response({"user": None})
        return Response({"user": {"id": user.id, "username": user.get_username(), "is_staff": user.is_staff}})

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "private, no-store"
        # The API's refusal names the methods of the endpoint asked about, not of this one.
        allowed = allowed_methods(request.headers.get(ORIGINAL_URI_HEADER, ""))
        if allowed is None:
            del response["Allow"]
        else:
            response["Allow"] = ", ".join(allowed)
        return response


def allowed_methods(uri: str) -> list[str] | None:
    """The Allow header DRF sends for the API view serving `uri`; None when no API view serves it."""
    try:
        match = resolve(uri.partition("?")[0])
    except Resolver404:
        return None
    view_class = getattr(match.func, "cls", None)
    if view_class is None or not issubclass(view_class, APIView):
        return None
    view = view_class(**getattr(match.func, "initkwargs", {}))
    actions = dict(getattr(match.func, "actions", None) or {})
    if "get" in actions:
        actions.setdefault("head", actions["get"])
    for method, action in actions.items():  # what ViewSetMixin.as_view binds for each request
        setattr(view, method, getattr(view, action))
    if hasattr(view, "get") and not hasattr(view, "head"):
        view.head = view.get
    return list(view.allowed_methods)
