"""The X-Strangler-Identity format, service side (the proxy's copy is strangler_proxy.dataplane.identity;
docs/identity.md is the contract and holds the test vector both sides check).

    v2.<base64url(payload)>.<base64url(HMAC-SHA256(key, "v2." + base64url(payload)))>

base64url without padding; the payload is a JSON object {"aud": str, "sub": int, "username": str, "staff": bool,
"iat": int, "exp": int} (seconds since the epoch), living 30 s at most, and, when the user is a customer,
"customer": int (the monolith's customer id, what customer-owned data stores). `aud` names the upstream it was
minted for: a verifier accepts only its own audience, so an identity captured at one service cannot be replayed to
another. Verification refuses anything that is not exactly that — and `v1` (no audience, up to 300 s) unless
`accept_v1`, the transition setting (STRANGLER_IDENTITY_ACCEPT_V1).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

VERSION = "v2"
V1 = "v1"
MAX_HEADER_LENGTH = 4096
# The proxy signs per request with a short expiry; a clock a few seconds off must not refuse everyone.
LEEWAY_SECONDS = 5
# Refuse identities that claim to live longer than this, whatever their signature says.
MAX_LIFETIME_SECONDS = 30
V1_MAX_LIFETIME_SECONDS = 300
CLAIMS = frozenset({"aud", "sub", "username", "staff", "iat", "exp"})
V1_CLAIMS = CLAIMS - {"aud"}
# Optional in v2: present when the identity provider named the user's customer profile (the monolith's service
# principal has none). A verifier that does not need it still accepts it.
OPTIONAL_CLAIMS = frozenset({"customer"})


class InvalidIdentity(Exception):
    """The header is not a valid, current identity signed with our key. The message says why (for logs)."""


@dataclass(frozen=True)
class Identity:
    user_id: int
    username: str
    is_staff: bool
    issued_at: int
    expires_at: int
    audience: str = ""  # the upstream it was minted for; "" for a v1 identity, which names none
    customer_id: int | None = None  # the `customer` claim; None when the identity names no customer


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not text or "=" in text:
        raise InvalidIdentity("not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidIdentity("not base64url") from exc
    # One spelling per value: the decoder ignores stray low bits in the last character, the comparison does not.
    if _b64encode(data) != text:
        raise InvalidIdentity("not canonical base64url")
    return data


def _mac(key: str, signed: str) -> bytes:
    return hmac.new(key.encode("utf-8"), signed.encode("ascii"), hashlib.sha256).digest()


def sign(identity: Identity, *, key: str) -> str:
    """Used by the service's tests to stand in for the proxy."""
    payload = {
        "aud": identity.audience,
        "sub": identity.user_id,
        "username": identity.username,
        "staff": identity.is_staff,
        "iat": identity.issued_at,
        "exp": identity.expires_at,
    }
    if identity.customer_id is not None:
        payload["customer"] = identity.customer_id
    payload_b64 = _b64encode(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    signed = f"{VERSION}.{payload_b64}"
    return f"{signed}.{_b64encode(_mac(key, signed))}"


def verify(header: str, *, key: str, now: float, audience: str, accept_v1: bool = False) -> Identity:
    """The identity `header` carries, if it is a current one signed with `key` for `audience`; else InvalidIdentity."""
    if len(header) > MAX_HEADER_LENGTH:
        raise InvalidIdentity("too long")
    parts = header.split(".")
    if len(parts) != 3:
        raise InvalidIdentity("not three dot-separated parts")
    version, payload_b64, signature_b64 = parts
    if version != VERSION and not (accept_v1 and version == V1):
        raise InvalidIdentity(f"unknown version {version[:10]!r}")
    if not payload_b64.isascii():
        raise InvalidIdentity("not ASCII")
    expected = _mac(key, f"{version}.{payload_b64}")
    if not hmac.compare_digest(expected, _b64decode(signature_b64)):
        raise InvalidIdentity("bad signature")
    try:
        claims = json.loads(_b64decode(payload_b64))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidIdentity("payload is not JSON") from exc
    if version == V1:
        identity = _identity_from(claims, V1_CLAIMS, frozenset())
    else:
        identity = _identity_from(claims, CLAIMS, OPTIONAL_CLAIMS)
    longest = V1_MAX_LIFETIME_SECONDS if version == V1 else MAX_LIFETIME_SECONDS
    if identity.expires_at - identity.issued_at > longest or identity.expires_at < identity.issued_at:
        raise InvalidIdentity("lifetime out of bounds")
    if now > identity.expires_at + LEEWAY_SECONDS:
        raise InvalidIdentity("expired")
    if identity.issued_at > now + LEEWAY_SECONDS:
        raise InvalidIdentity("issued in the future")
    if version == VERSION and identity.audience != audience:
        raise InvalidIdentity(f"minted for another audience ({identity.audience[:40]!r})")
    return identity


def _identity_from(claims: Any, names: frozenset[str], optional: frozenset[str]) -> Identity:
    if not isinstance(claims, dict) or not names <= set(claims) <= names | optional:
        also = f" (and optionally {', '.join(sorted(optional))})" if optional else ""
        raise InvalidIdentity(f"payload does not hold exactly {', '.join(sorted(names))}{also}")
    if "aud" in names and (not isinstance(claims["aud"], str) or not claims["aud"]):
        raise InvalidIdentity("aud is not a non-empty string")
    for name in ("sub", "iat", "exp"):
        if type(claims[name]) is not int:
            raise InvalidIdentity(f"{name} is not an integer")
    if type(claims["staff"]) is not bool:
        raise InvalidIdentity("staff is not a boolean")
    if not isinstance(claims["username"], str) or not claims["username"]:
        raise InvalidIdentity("username is not a non-empty string")
    if "customer" in claims and type(claims["customer"]) is not int:
        raise InvalidIdentity("customer is not an integer")
    return Identity(
        user_id=claims["sub"],
        username=claims["username"],
        is_staff=claims["staff"],
        issued_at=claims["iat"],
        expires_at=claims["exp"],
        audience=claims.get("aud", ""),
        customer_id=claims.get("customer"),
    )
