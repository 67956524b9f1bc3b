"""The control plane's exception hierarchy (route store, routes as code, admin API, CLI).

    ControlPlaneError
    ├── TableInvalid            a route table (or one route) breaks a rule; carries every problem found (422)
    ├── RoutesFileError         a routes TOML file cannot be read or parsed (422)
    ├── StaleVersion            the writer read version N but the store is at M != N (409)
    ├── UnknownVersion          a version that the store never had (404)
    ├── StoreEmpty              the store has no version yet and nothing to seed it with (409)
    ├── StoreUnavailable        the store cannot be opened or reached (503)
    ├── DataNotReady            a route may not enter canary/live: its data is not synced, verified or owned (409)
    ├── ConfigInvalid           `strangler proxy` settings are missing or wrong; names the variable
    └── AdminCallFailed         the CLI's call to the admin API failed (carries the API's status and error)
        └── AdminUnreachable    nothing answered at STRANGLER_ADMIN_URL

The admin API maps each class to one HTTP status and one JSON error shape; the CLI maps each to an exit code.
"""

from __future__ import annotations

from dataclasses import dataclass


class ControlPlaneError(Exception):
    status = 500
    code = "control_plane_error"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input: where (a dotted path such as `routes[2].percent`) and what."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class TableInvalid(ControlPlaneError):
    status = 422
    code = "validation_failed"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class RoutesFileError(ControlPlaneError):
    status = 422
    code = "routes_file_invalid"


class StaleVersion(ControlPlaneError):
    status = 409
    code = "stale_version"

    def __init__(self, expected: int, current: int) -> None:
        self.expected = expected
        self.current = current
        super().__init__(
            f"the route table changed since you read it: you read version {expected}, the store is at version "
            f"{current}; read it again (`strangler routes list`) and retry"
        )


class UnknownVersion(ControlPlaneError):
    status = 404
    code = "unknown_version"

    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(f"version {version} does not exist (see `strangler routes history`)")


class StoreEmpty(ControlPlaneError):
    status = 409
    code = "store_empty"


class DataNotReady(TableInvalid):
    """A route's data gate refuses its new stage; each problem names the route and the command to run."""

    status = 409
    code = "data_not_ready"


class StoreUnavailable(ControlPlaneError):
    status = 503
    code = "store_unavailable"


class ConfigInvalid(ControlPlaneError):
    code = "config_invalid"


class AdminCallFailed(ControlPlaneError):
    def __init__(self, status: int, code: str, detail: str, body: dict[str, object] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.body = body or {"error": code, "status": status, "detail": detail}


class AdminUnreachable(AdminCallFailed):
    pass
