"""Every error the service raises, as one tree. `ApiError`s leave the API as the one error body
({"error": {"status", "code", "message", "fields"}}); the others stop the process or a command.

    InventoryError
    ├── ConfigurationError      a variable is missing or invalid: the process does not start
    ├── MigrationError          a migration file failed: `migrate` exits non-zero
    └── ApiError                an answer to a request                          -> its status
        ├── InvalidInput        the body or the query is malformed              -> 400
        ├── NotAuthenticated    no identity where one is needed                 -> 401 (+ WWW-Authenticate)
        ├── AuthenticationFailed  an identity that does not verify              -> 401 (+ WWW-Authenticate)
        ├── PermissionDenied    the caller may not                              -> 403
        ├── NotFound            nothing the caller may see has that id          -> 404
        ├── MethodNotAllowed    the endpoint does not take the method           -> 405
        ├── Conflict            the current state forbids it                    -> 409
        ├── IdempotencyMismatch a key reused with another request               -> 422
        ├── UnsupportedMediaType  a body the service does not parse             -> 415
        └── DependencyUnavailable  the catalog could not be asked               -> 503
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class InventoryError(Exception):
    """Anything the service refuses or cannot do."""


class ConfigurationError(InventoryError):
    """The environment does not configure the service; the message names the variable."""


class MigrationError(InventoryError):
    """A migration could not be applied; nothing of it was (each file runs in one transaction)."""


class ApiError(InventoryError):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, fields: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.fields: dict[str, Any] = dict(fields or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"status": self.status, "code": self.code, "message": self.message, "fields": self.fields}}


class InvalidInput(ApiError):
    status = 400
    code = "invalid"


class NotAuthenticated(ApiError):
    status = 401
    code = "not_authenticated"

    def __init__(self) -> None:
        super().__init__("Authentication credentials were not provided.")


class AuthenticationFailed(ApiError):
    status = 401
    code = "authentication_failed"

    def __init__(self) -> None:
        # The monolith's answer to an invalid token: to the client, its token was the only credential in play.
        super().__init__("Invalid token.")


class PermissionDenied(ApiError):
    status = 403
    code = "permission_denied"

    def __init__(self) -> None:
        super().__init__("You do not have permission to perform this action.")


class NotFound(ApiError):
    status = 404
    code = "not_found"


class MethodNotAllowed(ApiError):
    status = 405
    code = "method_not_allowed"

    def __init__(self, method: str) -> None:
        super().__init__(f'Method "{method}" not allowed.')


class Conflict(ApiError):
    status = 409
    code = "conflict"


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported_media_type"

    def __init__(self, media_type: str) -> None:
        super().__init__(f'Unsupported media type "{media_type}" in request.')


class IdempotencyMismatch(ApiError):
    status = 422
    code = "idempotency_key_reused"


class DependencyUnavailable(ApiError):
    status = 503
    code = "catalog_unavailable"
