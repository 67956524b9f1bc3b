"""One JSON line per request on the ``strangler.access`` logger.

Fields, in this order: ts, request_id, method, client, path (canonical, without the query: queries can carry
secrets), fallback_from and fallback_reason (when the service failed and the monolith answered instead), status,
route, stage, upstream (the one that answered), fallback, retries, duration_ms, bytes_out, error (`exchange.py`
makes the line). Headers are never logged, so Authorization and cookies cannot leak. `configure_access_log`
attaches a plain handler.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from typing import IO

logger = logging.getLogger("strangler.access")


def enabled() -> bool:
    return logger.isEnabledFor(logging.INFO)


def emit(fields: Mapping[str, object]) -> None:
    """Log one line; `fields` starts with `ts` (unix seconds) and follows the order above."""
    logger.info(json.dumps(fields, separators=(",", ":"), default=str))


def configure_access_log(stream: IO[str] | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return handler
