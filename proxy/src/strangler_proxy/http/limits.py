"""What one listener bounds, per connection and per request: sizes, timeouts, connections.

Every field is a setting of `strangler proxy` (`STRANGLER_SERVER_*`, see `control/settings.py`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerLimits:
    max_url_bytes: int = 8 * 1024
    max_header_bytes: int = 32 * 1024  # request line + headers
    max_headers: int = 100
    header_timeout: float = 10.0  # from a request's first byte to the end of its head
    keepalive_timeout: float = 5.0  # idle time between requests on one connection
    body_timeout: float = 30.0  # longest wait for the next piece of a request body the app is reading
    high_water: int = 64 * 1024  # request-body bytes buffered before reading from the client pauses
    shutdown_grace: float = 10.0  # in-flight requests get this long to finish on shutdown
    max_connections: int = 10_000  # open client connections per listener; beyond it new ones are closed at once
