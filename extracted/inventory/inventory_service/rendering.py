"""Responses as the monolith writes them: compact UTF-8 JSON (DRF's JSONRenderer), its security headers, `Allow`
on every answer of an endpoint, `Vary: Cookie` where its session would have been read."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from inventory_service.errors import ApiError

JSON = "application/json"
# Django's SecurityMiddleware and XFrameOptionsMiddleware on every response of the monolith.
SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}


def json_bytes(data: Any) -> bytes:
    """DRF's rendering: no spaces, non-ASCII kept, and U+2028/U+2029 escaped (they end a line in JavaScript)."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode("utf-8")


def timestamp(value: datetime) -> str:
    """DRF's DateTimeField: ISO 8601 in UTC with `Z`, microseconds only when there are some."""
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@dataclass(frozen=True)
class Prerendered:
    """A body rendered earlier (an idempotent replay), sent byte for byte, with headers of its own."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def api_response(
    status: int,
    data: Any = None,
    *,
    allow: Iterable[str] = (),
    vary_cookie: bool = False,
    www_authenticate: str | None = None,
) -> Response:
    headers = dict(SECURITY_HEADERS)
    if allow:
        headers["allow"] = ", ".join(allow)
    if vary_cookie:
        headers["vary"] = "Cookie"
    if www_authenticate:
        headers["www-authenticate"] = www_authenticate
    if data is None:
        return Response(status_code=status, headers=headers)
    if isinstance(data, Prerendered):
        return Response(data.body, status_code=status, headers={**headers, **data.headers}, media_type=JSON)
    return Response(json_bytes(data), status_code=status, headers=headers, media_type=JSON)


def error_response(error: ApiError, *, allow: Iterable[str] = (), vary_cookie: bool = False) -> Response:
    challenge = "Token" if error.status == 401 else None
    return api_response(error.status, error.body(), allow=allow, vary_cookie=vary_cookie, www_authenticate=challenge)


def plain_error_response(status: int, code: str, message: str) -> Response:
    """An error the monolith answers outside DRF (an unknown /api/ path, a bad Host): Django's JsonResponse, which
    escapes non-ASCII, with no `Allow` and no `Vary`."""
    body = {"error": {"status": status, "code": code, "message": message, "fields": {}}}
    content = json.dumps(body, separators=(",", ":")).encode("ascii")
    return Response(content, status_code=status, headers=dict(SECURITY_HEADERS), media_type=JSON)
