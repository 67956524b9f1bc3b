"""Every error the strangler-proxy distribution raises on purpose, in one tree, and the one JSON error body.

    StranglerError                  base: `status` (what an API answers) and `code` (its "error" field)
    ├── SettingsInvalid             a setting is missing or wrong; the message names the variable
    ├── TableInvalid                a route table, a route, a hold or a data report breaks a rule (422)
    │   └── DataNotReady            a route may not enter canary/live: its data is not synced, verified or owned (409)
    ├── ClientDisconnected          the client went away mid-exchange; nobody is left to answer (also ConnectionError)
    ├── ProxyError                  the data plane answers a client with it, as JSON from "strangler-proxy"
    │   ├── BadRequestPath              the request target cannot be canonicalised (400)
    │   ├── LoopDetected                the request already passed through this proxy (its Via names it) (508)
    │   ├── UpstreamError               the upstream gave no response (before any byte reached the client)
    │   │   ├── UpstreamConnectError        refused, unreachable or DNS failure (502)
    │   │   ├── UpstreamBroken              the connection broke or the response was malformed (502)
    │   │   ├── UpstreamTimeout             connect or read timeout (504)
    │   │   ├── UpstreamOverloaded          the pending-request cap of the upstream was reached (503)
    │   │   └── CircuitOpen                 the upstream's circuit breaker is open (503)
    │   ├── ForwardAuthUnavailable      the monolith could not say who the client is: fail closed (503)
    │   ├── WriteHeld                   a held write was refused: its hold expired or its queue was full (503)
    │   ├── StoreFenced                 a write on a data route, refused: this replica cannot see the shared store (503)
    │   └── WritesInFlight              writes forwarded before a hold outlived its timeout; no hold (409)
    ├── ControlPlaneError           the route store, routes as code, the admin API and its client
    │   ├── RoutesFileError             a routes TOML file cannot be read or parsed (422)
    │   ├── StaleVersion                the writer read version N but the store is at M != N (409)
    │   ├── UnknownVersion              a version the store never had (404)
    │   ├── UnknownHold                 no write hold has that id: released already, or expired (404)
    │   ├── HoldsNotInPlace             a data owner changes only under live write holds covering its routes (409)
    │   ├── StoreEmpty                  the store has no version yet and nothing to seed it with (409)
    │   ├── StoreUnavailable            a database (route store, data states, mismatches) cannot be reached (503)
    │   ├── RequestRefused              the admin API refuses a request as such: JSON, token, endpoint (4xx)
    │   └── AdminCallFailed             a call to the admin API failed: the API's status, error code and body
    │       └── AdminUnreachable            nothing, or not the admin API, answered at the admin URL
    ├── CompareError                comparison, mismatches, capture and replay
    │   ├── JsonPathError               an ignore rule is not a JSON path (422)
    │   ├── UnknownMismatch             no stored mismatch has that id (404)
    │   ├── CorpusInvalid               a capture corpus cannot be read, or a line is not a recorded request (422)
    │   └── ReplayFailed                a replay target cannot be reached at all (503)
    └── EdgeError                   another data plane driven by the route table (nginx, Gateway API)
        ├── ExportRefused               the table uses what the target cannot express without an option (422)
        └── NginxRefused                nginx cannot be run, or `nginx -t` refused a rendered configuration (422)

Lower-layer errors (OSError, sqlite3/psycopg errors, httpx errors, ValueError from parsing) are translated into
these at the boundary that meets them, with `raise ... from exc`. The admin API answers every `StranglerError`
with its `status` and `error_body`; the CLI maps each to an exit code (`cli/exit_codes.py`).

`error_body` is the one JSON error body: the data plane's own answers (`"producer": "strangler-proxy"`, with the
request id), the HTTP server's refusals of malformed requests, and the admin API (`"producer": "strangler-admin"`)
all use it, so a client can tell a Strangler error from an upstream's own 502 by its `producer`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

PRODUCER = "strangler-proxy"
ADMIN_PRODUCER = "strangler-admin"


def error_body(status: int, code: str, detail: str, *, producer: str = PRODUCER, **extra: object) -> bytes:
    """`{"error", "status", "detail", "producer", ...extra}` as compact JSON bytes."""
    return json.dumps(
        {"error": code, "status": status, "detail": detail, "producer": producer, **extra}, separators=(",", ":")
    ).encode()


class StranglerError(Exception):
    status = 500
    code = "strangler_error"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input: where (a dotted path such as `routes[2].percent`) and what."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


# --- settings and the route table contract ---------------------------------------------------------------------


class SettingsInvalid(StranglerError):
    code = "settings_invalid"


class TableInvalid(StranglerError):
    status = 422
    code = "validation_failed"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class DataNotReady(TableInvalid):
    """A route's data gate refuses its new stage; each problem names the route and the command to run."""

    status = 409
    code = "data_not_ready"


class ClientDisconnected(StranglerError, ConnectionError):
    """Raised from an exchange's `send` (or a request body being read) when the client has gone away."""

    code = "client_gone"


# --- the data plane --------------------------------------------------------------------------------------------


class ProxyError(StranglerError):
    code = "proxy_error"


class BadRequestPath(ProxyError):
    status = 400
    code = "bad_request_path"


class LoopDetected(ProxyError):
    """The request's ``Via`` already names this proxy: forwarding it would send it round the loop again."""

    status = 508
    code = "loop_detected"


class UpstreamError(ProxyError):
    status = 502
    code = "upstream_error"

    def __init__(self, upstream: str, detail: str) -> None:
        super().__init__(f"{upstream}: {detail}")
        self.upstream = upstream
        self.detail = detail


class UpstreamConnectError(UpstreamError):
    code = "upstream_unreachable"


class UpstreamBroken(UpstreamError):
    code = "upstream_broken"


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"


class UpstreamOverloaded(UpstreamError):
    status = 503
    code = "upstream_overloaded"


class CircuitOpen(UpstreamError):
    status = 503
    code = "circuit_open"


class ForwardAuthUnavailable(ProxyError):
    """The monolith could not say who the client is (unreachable, timeout, an answer outside the contract)."""

    status = 503
    code = "identity_unavailable"


class WriteHeld(ProxyError):
    """A held write could not be forwarded: the hold expired or its queue was full. Nothing reached an upstream."""

    status = 503
    code = "write_hold"

    def __init__(self, detail: str, *, route: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.route = route
        self.retry_after = retry_after


class StoreFenced(ProxyError):
    """This replica has not seen the shared store for longer than its fence: it cannot know of a write hold, so it
    refuses writes on data routes. Nothing reached an upstream."""

    status = 503
    code = "store_fenced"

    def __init__(self, detail: str, *, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class WritesInFlight(ProxyError):
    """Writes forwarded before the hold did not finish within its timeout; the hold was dropped."""

    status = 409
    code = "writes_in_flight"


# --- the control plane -----------------------------------------------------------------------------------------


class ControlPlaneError(StranglerError):
    code = "control_plane_error"


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


class UnknownHold(ControlPlaneError):
    status = 404
    code = "unknown_hold"

    def __init__(self, hold_id: str) -> None:
        self.hold_id = hold_id
        super().__init__(f"no hold {hold_id!r}: it was released already or it expired")


class HoldsNotInPlace(ControlPlaneError):
    """The holds a change needs (a data owner's, under `PUT /data-state` with `fence`) are not all active, or do
    not cover every path the change affects."""

    status = 409
    code = "holds_not_in_place"


class StoreEmpty(ControlPlaneError):
    status = 409
    code = "store_empty"


class StoreUnavailable(ControlPlaneError):
    status = 503
    code = "store_unavailable"


class RequestRefused(ControlPlaneError):
    """An admin API request refused as such (not for what it asks): bad JSON, no token, no such endpoint."""

    def __init__(self, status: int, code: str, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or []


class AdminCallFailed(ControlPlaneError):
    def __init__(self, status: int, code: str, detail: str, body: dict[str, object] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.body = body or {"error": code, "status": status, "detail": detail}


class AdminUnreachable(AdminCallFailed):
    pass


# --- comparison ------------------------------------------------------------------------------------------------


class CompareError(StranglerError):
    code = "compare_error"


class JsonPathError(CompareError):
    status = 422
    code = "json_path_invalid"


class UnknownMismatch(CompareError):
    status = 404
    code = "unknown_mismatch"

    def __init__(self, mismatch_id: int) -> None:
        self.mismatch_id = mismatch_id
        super().__init__(f"no stored mismatch has id {mismatch_id} (see `strangler diffs list`)")


class CorpusInvalid(CompareError):
    status = 422
    code = "corpus_invalid"


class ReplayFailed(CompareError):
    status = 503
    code = "replay_failed"


# --- other data planes (edge/) ------------------------------------------------------------------------------------


class EdgeError(StranglerError):
    code = "edge_error"


class ExportRefused(EdgeError):
    status = 422
    code = "export_refused"


class NginxRefused(EdgeError):
    status = 422
    code = "nginx_refused"
