"""One JSON line per request on the ``strangler.access`` logger.

Fields: ts, request_id, method, path (canonical, without the query: queries can carry secrets), status, route,
stage, upstream (the one that answered), fallback, retries, duration_ms, bytes_out, client, error. Headers are
never logged, so Authorization and cookies cannot leak. `configure_access_log` attaches a plain handler.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import IO, Any

logger = logging.getLogger("strangler.access")


def enabled() -> bool:
    return logger.isEnabledFor(logging.INFO)


def emit(**fields: Any) -> None:
    fields = {"ts": round(time.time(), 3), **fields}
    logger.info(json.dumps(fields, separators=(",", ":"), default=str))


def configure_access_log(stream: IO[str] | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return handler
