"""The data plane's exception hierarchy and the JSON error bodies the proxy itself produces.

    ProxyError
    ├── BadRequestPath          the request target cannot be canonicalised (400)
    └── UpstreamError           the upstream could not give a response (before any byte reached the client)
        ├── UpstreamConnectError    refused, unreachable or DNS failure (502)
        ├── UpstreamBroken          the connection broke or the response was malformed (502)
        ├── UpstreamTimeout         connect or read timeout (504)
        ├── UpstreamOverloaded      the pending-request cap of the upstream was reached (503)
        └── CircuitOpen             the upstream's circuit breaker is open (503)

Every response the proxy produces on its own carries a JSON body with `"producer": "strangler-proxy"`, so a
client (and an operator reading a trace) can tell a proxy error from an upstream's own 502.
"""

from __future__ import annotations

import json

PRODUCER = "strangler-proxy"


class ProxyError(Exception):
    status = 500
    code = "proxy_error"


class BadRequestPath(ProxyError):
    status = 400
    code = "bad_request_path"


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


def error_body(status: int, code: str, detail: str, request_id: str) -> bytes:
    return json.dumps(
        {"error": code, "status": status, "detail": detail, "producer": PRODUCER, "request_id": request_id},
        separators=(",", ":"),
    ).encode()
