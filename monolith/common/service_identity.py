"""The identity the monolith signs when it calls a service itself (docs/identity.md, "the monolith as a caller").

The proxy's format and key (`v2`, HMAC-SHA256 with `STRANGLER_IDENTITY_KEY`, §2 of that page), for a principal
that is no user: `sub` 0 (no user has it), username `service:monolith` (no Django username can hold a `:`) and
staff, because the monolith's apps must see what staff see (an inactive product is still a product to stock).
Signed per call for the service called (`aud`: `catalog` for the catalog seam) with the proxy's 30 s lifetime, so a
captured header is as short-lived as the proxy's and good at that service only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

VERSION = "v2"
LIFETIME_S = 30
PRINCIPAL_ID = 0
PRINCIPAL_NAME = "service:monolith"
HEADER = "X-Strangler-Identity"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_service_identity(*, key: str, audience: str, now: float | None = None) -> str:
    """The monolith's identity for a call to the service named `audience` (its upstream name, e.g. "catalog")."""
    return sign_identity(key=key, audience=audience, user_id=PRINCIPAL_ID, username=PRINCIPAL_NAME, staff=True, now=now)


def sign_identity(
    *,
    key: str,
    audience: str,
    user_id: int,
    username: str,
    staff: bool,
    customer_id: int | None = None,
    now: float | None = None,
) -> str:
    """The identity the proxy would sign for a user (with their customer id, the optional `customer` claim): what
    the monolith sends when a seam relays a user's own request to the service that owns the data (reviews)."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {
        "aud": audience,
        "sub": user_id,
        "username": username,
        "staff": staff,
        "iat": issued,
        "exp": issued + LIFETIME_S,
    }
    if customer_id is not None:
        claims["customer"] = customer_id
    signed = f"{VERSION}.{_b64(json.dumps(claims, separators=(',', ':'), sort_keys=True).encode('ascii'))}"
    mac = hmac.new(key.encode("utf-8"), signed.encode("ascii"), hashlib.sha256).digest()
    return f"{signed}.{_b64(mac)}"
