"""What one listener bounds, per connection and per request: sizes, timeouts, connections.

Every field is a setting of `strangler proxy` (`STRANGLER_SERVER_*`, see `control/settings.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1 << 20


@dataclass(frozen=True, slots=True)
class ServerLimits:
    max_url_bytes: int = 8 * 1024
    max_header_bytes: int = 32 * 1024  # request line + headers
    max_headers: int = 100
    header_timeout: float = 10.0  # from a request's first byte to the end of its head
    keepalive_timeout: float = 5.0  # idle time between requests on one connection
    body_timeout: float = 30.0  # longest wait for the next piece of a request body
    # A body up to this size is read whole before the app gets its first piece (so before an upstream is called);
    # a larger one then streams. Also the most of an unread body the server reads and discards to keep a
    # connection open after answering early.
    body_buffer: int = MIB
    max_body: int = 100 * MIB  # a larger request body is refused with 413 (0: no limit)
    body_deadline: float = 300.0  # a whole request body must arrive within this many seconds of the app asking for it
    # bytes/s a body must average since the app asked for it, once 5 s (or body_timeout if shorter) passed (0: off)
    body_min_rate: int = 4096
    high_water: int = 64 * 1024  # request-body bytes buffered while streaming before reading from the client pauses
    write_high_water: int = 64 * 1024  # response bytes queued for a client before the server stops producing more
    send_timeout: float = 60.0  # a client that takes no response bytes for this long is cut off
    shutdown_grace: float = 10.0  # in-flight requests get this long to finish on shutdown
    max_connections: int = 10_000  # open client connections per listener; beyond it new ones are closed at once
