"""Errors raised by services when a business rule says no. The API layer maps each kind to one status.

    DomainError            any refusal by a service                          -> 400
    ├── InvalidInput       the request is malformed for the domain           -> 400
    ├── NotFound           an id names nothing the caller may see            -> 404
    ├── Conflict           the current state forbids it (transition, dup.)   -> 409
    └── Unavailable        a service it needs cannot answer; nothing written -> 503 (+ Retry-After)

Services raise these instead of HTTP exceptions so they stay callable from commands, other apps and tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class DomainError(Exception):
    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.fields = {name: list(messages) for name, messages in (fields or {}).items()}


class InvalidInput(DomainError):
    code = "invalid"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class Unavailable(DomainError):
    """A service this request needs (e.g. the catalog, to check a product) did not answer. Raised before anything
    is written, so the client may simply try again after `retry_after` seconds."""

    code = "service_unavailable"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after
