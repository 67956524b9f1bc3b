"""The endpoint `framework_choice.py` serves with each candidate: the same query, the same pool, the same JSON."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from typing import Any

from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

QUERY = "SELECT coalesce(sum(quantity), 0) FROM stock WHERE product_id = %s"


def _pool() -> AsyncConnectionPool:
    return AsyncConnectionPool(os.environ["BENCH_DATABASE_URL"], min_size=4, max_size=4, open=False)


async def _available(pool: AsyncConnectionPool, product_id: int) -> int:
    async with pool.connection() as conn:
        cursor = await conn.execute(QUERY, (product_id,))
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


# Starlette: routing, path conversion and JSONResponse from the framework.
_starlette_pool = _pool()


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    await _starlette_pool.open()
    yield
    await _starlette_pool.close()


async def _availability(request: Request) -> JSONResponse:
    product_id: int = request.path_params["product_id"]
    return JSONResponse({"product": product_id, "available": await _available(_starlette_pool, product_id)})


starlette_app = Starlette(routes=[Route("/availability/{product_id:int}", _availability)], lifespan=_lifespan)

# Plain ASGI: the same answer with nothing between the server and the query.
_plain_pool = _pool()
PREFIX = "/availability/"


async def plain_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await _plain_pool.open()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await _plain_pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    path: str = scope["path"]
    tail = path[len(PREFIX) :]
    if scope["type"] != "http" or not path.startswith(PREFIX) or not tail.isdigit():
        await send({"type": "http.response.start", "status": 404, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
        return
    product_id = int(tail)
    body = json.dumps({"product": product_id, "available": await _available(_plain_pool, product_id)}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
