"""The monolith's reviews API once the reviews service owns reviews: the monolith still judges the credentials (its
token or session, its CSRF check), then sends the request on to the service as the proxy would — the identity it
signs for the user instead of the credentials, whose kinds it names — and answers with the service's answer."""

from __future__ import annotations

from django.http import HttpResponse
from django.http.request import HttpHeaders
from rest_framework.request import Request

from common.service_identity import HEADER, sign_identity
from customers import services as customer_services
from reviews.service_client import SERVICE_AUDIENCE, ReviewsServiceClient

# What a client sends that the service's answer depends on (the credentials are replaced by the identity).
PASSED_ON = ("Accept", "Accept-Language", "Content-Type", "X-Request-Id", "traceparent")
# What the service's answer says that the client must see; framing, Date and Server are the monolith's own.
ANSWERED = ("Content-Type", "Allow", "Vary", "WWW-Authenticate", "Retry-After", "Content-Language", "Location")


def relay(request: Request, body: bytes, client: ReviewsServiceClient, *, key: str) -> HttpResponse:
    django_request = request._request
    headers = {name: django_request.headers[name] for name in PASSED_ON if name in django_request.headers}
    # The host and scheme the monolith was asked with, as the proxy passes them: the service builds its pages' `next`
    # and `previous` links from them, as the monolith does.
    headers["Host"] = django_request.get_host()
    headers["X-Forwarded-Proto"] = django_request.scheme or "http"
    kinds = _credential_kinds(django_request.headers)
    if kinds:
        headers["X-Strangler-Credentials"] = kinds
    user = request.user
    if user.is_authenticated:
        headers[HEADER] = sign_identity(
            key=key,
            audience=SERVICE_AUDIENCE,
            user_id=user.id,
            username=user.get_username(),
            staff=user.is_staff,
            customer_id=customer_services.customer_id_for_user(user=user),
        )
    answer = client.relay(django_request.method or "GET", django_request.get_full_path(), headers=headers, body=body)
    response = HttpResponse(answer.content, status=answer.status, content_type=answer.headers.get("Content-Type"))
    for name in ANSWERED:
        if name in answer.headers:
            response[name] = answer.headers[name]
    return response


def _credential_kinds(headers: HttpHeaders) -> str:
    """What the proxy names in X-Strangler-Credentials (docs/identity.md): the kinds, never the values."""
    authorization = headers.get("Authorization", "")
    kinds = []
    if authorization:
        kinds.append("token" if authorization.split(" ")[0].lower() == "token" else "authorization")
    if headers.get("Cookie", ""):
        kinds.append("cookie")
    return ", ".join(kinds)
