"""Forward auth for the proxy (docs/identity.md): who the credentials of a client's request name, judged
exactly as the API would judge them, so that a refusal can be sent to the client unchanged."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from customers import selectors as customer_selectors
from identity.credentials import CredentialsJudge

ORIGINAL_METHOD_HEADER = "X-Original-Method"
ORIGINAL_URI_HEADER = "X-Original-URI"
METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "POST", "PUT", "PATCH", "DELETE"})


class IdentityView(CredentialsJudge):
    """GET with the client's Authorization/Cookie (and CSRF) headers and X-Original-Method: 200 {"user": …}, or
    the API's own 401/403 for those credentials. A user's answer names their customer id (`customer`), which the
    proxy signs into the identity for services that store customer-owned data (reviews), or null when they have no
    customer profile yet."""

    def user_answer(self, user: Any) -> dict[str, Any]:
        # Read only: the proxy asks on every request it signs, so answering must not write. A user without a profile
        # (staff, users made by createsuperuser) gets one from the monolith's customer features, not from here.
        return {**super().user_answer(user), "customer": customer_selectors.customer_id_for_user(user_id=user.id)}

    def original_method(self, request: Request) -> str:
        method = request.headers.get(ORIGINAL_METHOD_HEADER, "").upper()
        if method not in METHODS:
            raise ValidationError({ORIGINAL_METHOD_HEADER: ["Give the method of the request being authorised."]})
        return method

    def original_uri(self, request: Request) -> str:
        return request.headers.get(ORIGINAL_URI_HEADER, "")

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        return self.judge(request)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "private, no-store"
        return response
