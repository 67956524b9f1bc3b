"""The one error body every /api/ response with status >= 400 carries.

    {"error": {"status": 404, "code": "not_found", "message": "Not found.", "fields": {}}}

`fields` maps a field name to its messages (nested the way the request was nested) and is empty when the
error is not about a particular field.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse

API_PREFIX = "/api/"


def error_body(*, status: int, code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"status": status, "code": code, "message": message, "fields": fields or {}}}


def error_response(*, status: int, code: str, message: str, fields: dict[str, Any] | None = None) -> JsonResponse:
    body = error_body(status=status, code=code, message=message, fields=fields)
    # Compact like DRF's JSONRenderer, so every error body is byte-for-byte in the same style.
    return JsonResponse(body, status=status, json_dumps_params={"separators": (",", ":")})


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)
