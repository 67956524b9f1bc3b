"""GET /healthz: 200 {"status": "ok", "database": "ok"} when PostgreSQL answers, else 503, as the monolith's."""

from __future__ import annotations

import logging

import psycopg
from psycopg_pool import PoolTimeout
from starlette.requests import Request
from starlette.responses import JSONResponse

logger = logging.getLogger(__name__)
TIMEOUT_SECONDS = 2.0
NO_STORE = {"cache-control": "max-age=0, no-cache, no-store, must-revalidate, private"}


async def healthz(request: Request) -> JSONResponse:
    try:
        async with request.app.state.services.pool.connection(timeout=TIMEOUT_SECONDS) as conn:
            await conn.execute("SELECT 1")
    except (psycopg.Error, PoolTimeout) as exc:
        logger.warning("healthz: database unreachable: %s", exc)
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503, headers=NO_STORE)
    return JSONResponse({"status": "ok", "database": "ok"}, headers=NO_STORE)
