"""DRF authentication from X-Strangler-Identity, the identity the proxy signed after asking the monolith.

No header: anonymous (the proxy sends none for a client without credentials). A header that does not verify
(forged, expired, malformed, unsigned, another version): 401 with the body the monolith gives for an invalid
token, because to the client the only credential in play was its token or session.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from rest_framework import authentication, exceptions
from rest_framework.authentication import get_authorization_header
from rest_framework.request import Request

from strangler_kit.identity.signing import Identity, InvalidIdentity, verify
from strangler_kit.identity.user import ServiceUser

HEADER = "HTTP_X_STRANGLER_IDENTITY"
WITHHELD = "HTTP_X_STRANGLER_CREDENTIALS"  # the kinds of credentials the proxy withheld (never their values)
# The monolith's first authentication class is DRF's TokenAuthentication: the same challenge and message.
CHALLENGE = "Token"
INVALID_MESSAGE = "Invalid token."

logger = logging.getLogger(__name__)


def verify_identity(header: str, *, now: float | None = None) -> Identity:
    """The service's one check of an X-Strangler-Identity header, with its STRANGLER_IDENTITY_KEY: the identity, or
    InvalidIdentity saying why: signed with that key, current, and minted for STRANGLER_IDENTITY_AUDIENCE (v1, which
    names no audience, only while STRANGLER_IDENTITY_ACCEPT_V1 is on)."""
    return verify(
        header,
        key=settings.STRANGLER_IDENTITY_KEY,
        now=time.time() if now is None else now,
        audience=settings.STRANGLER_IDENTITY_AUDIENCE,
        accept_v1=settings.STRANGLER_IDENTITY_ACCEPT_V1,
    )


class SignedIdentityAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ServiceUser, None] | None:
        if not _carries_a_token(request):
            # The monolith falls back to its session here, and reading the session adds Vary: Cookie.
            request._request.would_read_session = True
        header = request.META.get(HEADER)
        if header is None:
            return None
        try:
            identity = verify_identity(header)
        except InvalidIdentity as exc:
            # The reason only: the header itself is a bearer credential for its lifetime.
            logger.warning("refused X-Strangler-Identity: %s", exc)
            raise exceptions.AuthenticationFailed(INVALID_MESSAGE) from exc
        user = ServiceUser(
            id=identity.user_id,
            username=identity.username,
            is_staff=identity.is_staff,
            customer_id=identity.customer_id,
        )
        return user, None

    def authenticate_header(self, request: Request) -> str:
        return CHALLENGE


def _carries_a_token(request: Request) -> bool:
    """What DRF's TokenAuthentication, the monolith's first class, treats as its own (valid or not): an
    `Authorization: Token …`, or the proxy's word that the client sent one (`X-Strangler-Credentials: token`, when
    the route withholds the client's credentials from the service)."""
    words = get_authorization_header(request).split()
    if words and words[0].lower() == CHALLENGE.lower().encode():
        return True
    withheld = request.META.get(WITHHELD, "")
    return "token" in (kind.strip() for kind in withheld.lower().split(","))
