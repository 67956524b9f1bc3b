"""The signed identity the proxy sends (docs/identity.md §2), verified exactly as the contract says.

    X-Strangler-Identity: v2.<base64url(payload)>.<base64url(HMAC-SHA256(key, "v2." + base64url(payload)))>

base64url without padding and in its one canonical spelling; the payload is a JSON object with exactly `aud`
(non-empty str: the upstream it was minted for, which must be this service's), `sub` (int), `username` (non-empty
str), `staff` (bool), `iat` and `exp` (int), living 30 s at most, and optionally `customer` (int: the user's
customer id, which this service does not need but, as the contract says, accepts). `verify` accepts nothing
else — and `v1` (no `aud`, up to 300 s) only when told to (`accept_v1`, the transition setting
STRANGLER_IDENTITY_ACCEPT_V1).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

HEADER = "x-strangler-identity"
VERSION = "v2"
V1 = "v1"
MAX_HEADER_LENGTH = 4096
LEEWAY_SECONDS = 5  # the proxy's clock and ours may disagree by this much either way
MAX_LIFETIME_SECONDS = 30
V1_MAX_LIFETIME_SECONDS = 300
CLAIMS = frozenset({"aud", "sub", "username", "staff", "iat", "exp"})
V1_CLAIMS = CLAIMS - {"aud"}
OPTIONAL_CLAIMS = frozenset({"customer"})  # v2 only


class InvalidIdentity(Exception):
    """The header is not a current identity signed with our key. The message says why, for the log only."""


@dataclass(frozen=True)
class Identity:
    user_id: int
    username: str
    is_staff: bool
    issued_at: int
    expires_at: int
    audience: str = ""  # "" for a v1 identity, which names none
    customer_id: int | None = None  # the optional `customer` claim


def verify(header: str, *, key: str, now: float, audience: str, accept_v1: bool = False) -> Identity:
    if len(header) > MAX_HEADER_LENGTH:
        raise InvalidIdentity("too long")
    parts = header.split(".")
    if len(parts) != 3:
        raise InvalidIdentity("not version.payload.signature")
    version, payload, signature = parts
    if version != VERSION and not (accept_v1 and version == V1):
        raise InvalidIdentity(f"unknown version {version[:8]!r}")
    if not payload.isascii():
        raise InvalidIdentity("payload is not ASCII")
    expected = hmac.new(key.encode("utf-8"), f"{version}.{payload}".encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _decode(signature)):
        raise InvalidIdentity("bad signature")
    try:
        claims = json.loads(_decode(payload))
    except ValueError as exc:  # UnicodeDecodeError is one too
        raise InvalidIdentity("payload is not UTF-8 JSON") from exc
    identity = (
        _identity(claims, V1_CLAIMS, frozenset()) if version == V1 else _identity(claims, CLAIMS, OPTIONAL_CLAIMS)
    )
    lifetime = identity.expires_at - identity.issued_at
    if lifetime < 0 or lifetime > (V1_MAX_LIFETIME_SECONDS if version == V1 else MAX_LIFETIME_SECONDS):
        raise InvalidIdentity("lifetime out of bounds")
    if now > identity.expires_at + LEEWAY_SECONDS:
        raise InvalidIdentity("expired")
    if identity.issued_at > now + LEEWAY_SECONDS:
        raise InvalidIdentity("issued in the future")
    if version == VERSION and identity.audience != audience:
        raise InvalidIdentity("minted for another audience")
    return identity


def sign(identity: Identity, *, key: str) -> str:
    """What the proxy does; the service's tests use it to stand in for the proxy."""
    claims = {
        "aud": identity.audience,
        "sub": identity.user_id,
        "username": identity.username,
        "staff": identity.is_staff,
        "iat": identity.issued_at,
        "exp": identity.expires_at,
    }
    if identity.customer_id is not None:
        claims["customer"] = identity.customer_id
    payload = _encode(json.dumps(claims, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    mac = hmac.new(key.encode("utf-8"), f"{VERSION}.{payload}".encode("ascii"), hashlib.sha256).digest()
    return f"{VERSION}.{payload}.{_encode(mac)}"


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    if not text or "=" in text or not text.isascii():
        raise InvalidIdentity("not unpadded base64url")
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidIdentity("not base64url") from exc
    # The decoder ignores the unused low bits of the last character; two spellings of one value are refused.
    if _encode(data) != text:
        raise InvalidIdentity("not canonical base64url")
    return data


def _identity(claims: Any, names: frozenset[str], optional: frozenset[str]) -> Identity:
    if not isinstance(claims, dict) or not names <= set(claims) <= names | optional:
        also = f" (and optionally {', '.join(sorted(optional))})" if optional else ""
        raise InvalidIdentity(f"payload does not hold exactly {', '.join(sorted(names))}{also}")
    if "aud" in names and (type(claims["aud"]) is not str or not claims["aud"]):
        raise InvalidIdentity("aud is not a non-empty string")
    if any(type(claims[name]) is not int for name in ("sub", "iat", "exp")):
        raise InvalidIdentity("sub, iat or exp is not an integer")
    if type(claims["staff"]) is not bool:
        raise InvalidIdentity("staff is not a boolean")
    if type(claims["username"]) is not str or not claims["username"]:
        raise InvalidIdentity("username is not a non-empty string")
    if "customer" in claims and type(claims["customer"]) is not int:
        raise InvalidIdentity("customer is not an integer")
    return Identity(
        claims["sub"],
        claims["username"],
        claims["staff"],
        claims["iat"],
        claims["exp"],
        claims.get("aud", ""),
        claims.get("customer"),
    )
