"""Forward auth for the proxy (docs/identity.md): who the credentials of a client's request name, judged
exactly as the API would judge them, so that a refusal can be sent to the client unchanged."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from customers import selectors as customer_selectors
from customers import services as customer_services
from identity.credentials import CredentialsJudge

ORIGINAL_METHOD_HEADER = "X-Original-Method"
ORIGINAL_URI_HEADER = "X-Original-URI"
METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "POST", "PUT", "PATCH", "DELETE"})
READS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class IdentityView(CredentialsJudge):
    """GET with the client's Authorization/Cookie (and CSRF) headers and X-Original-Method: 200 {"user": …}, or
    the API's own 401/403 for those credentials. A user's answer names their customer id (`customer`), which the
    proxy signs into the identity for services that store customer-owned data (reviews)."""

    def user_answer(self, user: Any) -> dict[str, Any]:
        # The monolith makes a customer profile on first use of a customer feature (staff and users made by
        # createsuperuser have none until then). A service cannot make one, so a request that may write gets it
        # made here, as the monolith would on that write; a read only reads (null when there is none), so the
        # proxy's question for every GET it signs writes nothing.
        if self.request.method in READS:
            customer = customer_selectors.customer_id_for_user(user_id=user.id)
        else:
            customer = customer_services.customer_id_for_user(user=user)
        return {**super().user_answer(user), "customer": customer}

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
