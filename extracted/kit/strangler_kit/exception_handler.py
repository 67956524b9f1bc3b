"""DRF's exception handler, reshaped: every error leaves the API in the body of `common.error_body`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from strangler_kit import errors
from strangler_kit.error_body import error_body

DOMAIN_STATUS = {
    errors.NotFound: status.HTTP_404_NOT_FOUND,
    errors.Conflict: status.HTTP_409_CONFLICT,
    errors.InvalidInput: status.HTTP_400_BAD_REQUEST,
    errors.Unavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, errors.DomainError):
        return _domain_response(exc)
    exc = _as_api_exception(exc)
    # DRF's own handler sets WWW-Authenticate / Retry-After and rolls back an atomic request.
    response = drf_exception_handler(exc, context)
    if response is None:  # a bug, not a refusal: Django's handler500 answers it
        return None
    assert isinstance(exc, exceptions.APIException)
    response.data = _body_for(exc, response.status_code)
    return response


def _as_api_exception(exc: Exception) -> Exception:
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(as_serializer_error(exc))
    return exc


def _domain_response(exc: errors.DomainError) -> Response:
    status_code = next(
        (code for kind, code in DOMAIN_STATUS.items() if isinstance(exc, kind)), status.HTTP_400_BAD_REQUEST
    )
    body = error_body(status=status_code, code=exc.code, message=exc.message, fields=exc.fields)
    response = Response(body, status=status_code)
    if isinstance(exc, errors.Unavailable):
        response["Retry-After"] = str(exc.retry_after)
    return response


def _body_for(exc: exceptions.APIException, status_code: int) -> dict[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        return _validation_body(exc.detail, status_code)
    detail = exc.detail
    code = getattr(detail, "code", None) or exc.default_code
    return error_body(status=status_code, code=str(code), message=str(detail))


def _validation_body(detail: Any, status_code: int) -> dict[str, Any]:
    non_field_key = api_settings.NON_FIELD_ERRORS_KEY
    if isinstance(detail, dict):
        fields = _plain(detail)
        general = fields.get(non_field_key)
        message = _first_message(general) if general else "Invalid input: " + ", ".join(sorted(fields)) + "."
    else:
        messages = _plain(detail if isinstance(detail, list) else [detail])
        fields = {}
        message = _first_message(messages) if messages else "Invalid input."
    return error_body(status=status_code, code="invalid", message=message, fields=fields)


def _plain(detail: Any) -> Any:
    """ErrorDetail trees -> plain JSON (strings, lists, dicts)."""
    if isinstance(detail, dict):
        return {str(key): _plain(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_plain(item) for item in detail]
    return str(detail)


def _first_message(messages: Any) -> str:
    while isinstance(messages, list) and messages:
        messages = messages[0]
    return str(messages) if messages else "Invalid input."
