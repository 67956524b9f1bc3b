"""/internal/inventory/: what the monolith's orders need once the service owns inventory (docs/seam.md, "the order
saga"). Not the monolith's API: no client calls it, and the proxy never routes `/internal/` here (the route table
sends only `/api/inventory` to the service; anything else goes to the monolith, which has no such path).

Only the monolith may call it: the identity must be the one it signs for itself (`sub` 0, `service:monolith`, a
name no user of the monolith can hold), else 401 (no identity, or one that does not verify) or 403.

    POST /internal/inventory/order-holds/              {"key", "lines": [{"product", "quantity"}]}  -> 201 | 409
    POST /internal/inventory/order-holds/<key>/attach  {"order"}                                     -> 200 | 404
    POST /internal/inventory/order-holds/<key>/release                                               -> 200
    POST /internal/inventory/orders/<order id>/release                                               -> 200
    POST /internal/inventory/orders/<order id>/fulfil                                                -> 200

Every call may be repeated: a hold is keyed (a repeat gets the first answer, `Idempotent-Replayed: true`), and
attach, release and fulfil find nothing left to do the second time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from inventory_service import number_rules as numbers
from inventory_service.callers import Caller, caller_of
from inventory_service.errors import ApiError, InvalidInput, NotAuthenticated, PermissionDenied
from inventory_service.rendering import Prerendered, api_response, error_response
from inventory_service.services import Services
from inventory_service.store import order_holds

PREFIX = "/internal/inventory"
MONOLITH_ID = 0
MONOLITH_NAME = "service:monolith"
KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_LINES = 100

Handler = Callable[[Request, Services], Awaitable[Response]]


def monolith_only(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        services: Services = request.app.state.services
        try:
            _require_monolith(caller_of(request.headers, settings=services.settings))
            return await handler(request, services)
        except ApiError as error:
            return error_response(error)

    return endpoint


def _require_monolith(caller: Caller) -> None:
    if not caller.is_authenticated:
        raise NotAuthenticated()
    if (caller.user_id, caller.username, caller.is_staff) != (MONOLITH_ID, MONOLITH_NAME, True):
        raise PermissionDenied()


@monolith_only
async def hold(request: Request, services: Services) -> Response:
    data = await _json(request)
    key = _key(data.get("key"))
    lines = _lines(data.get("lines"))
    async with services.pool.connection() as conn, conn.transaction():
        answer = await order_holds.reserve(conn, key=key, lines=lines)
    headers = {"idempotent-replayed": "true"} if answer.replayed else {}
    return api_response(answer.status, Prerendered(answer.body, headers=headers))


@monolith_only
async def attach(request: Request, services: Services) -> Response:
    key = _key(request.path_params["key"])
    order_id = _order_id((await _json(request)).get("order"))
    async with services.pool.connection() as conn, conn.transaction():
        count = await order_holds.attach(conn, key=key, order_id=order_id)
    return api_response(200, {"key": key, "order": order_id, "reservations": count})


@monolith_only
async def release_hold(request: Request, services: Services) -> Response:
    key = _key(request.path_params["key"])
    async with services.pool.connection() as conn, conn.transaction():
        count = await order_holds.release_hold(conn, key=key)
    return api_response(200, {"key": key, "released": count})


@monolith_only
async def release_order(request: Request, services: Services) -> Response:
    order_id = _order_id(request.path_params["order_id"])
    async with services.pool.connection() as conn, conn.transaction():
        count = await order_holds.release_order(conn, order_id=order_id)
    return api_response(200, {"order": order_id, "released": count})


@monolith_only
async def fulfil_order(request: Request, services: Services) -> Response:
    order_id = _order_id(request.path_params["order_id"])
    async with services.pool.connection() as conn, conn.transaction():
        count = await order_holds.fulfil_order(conn, order_id=order_id)
    return api_response(200, {"order": order_id, "fulfilled": count})


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput("The body is not JSON.") from exc
    if not isinstance(data, dict):
        raise InvalidInput("The body must be a JSON object.")
    return data


def _key(value: Any) -> str:
    if not isinstance(value, str) or not KEY.fullmatch(value):
        message = "A hold key is 1 to 64 letters, digits, '-' or '_'."
        raise InvalidInput(message, fields={"key": [message]})
    return value


def _order_id(value: Any) -> int:
    number = _positive(value)
    if number is None:
        raise InvalidInput("An order id is a positive integer.", fields={"order": ["A positive integer."]})
    return number


def _positive(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = numbers.integer(value)
        except numbers.InvalidInteger:
            return None
    if not isinstance(value, int) or not 1 <= value <= numbers.LARGEST_ID:
        return None
    return value


def _lines(value: Any) -> dict[int, int]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_LINES:
        raise InvalidInput("A hold needs 1 to 100 lines.", fields={"lines": ["1 to 100 lines."]})
    lines: dict[int, int] = {}
    for line in value:
        product = _positive(line.get("product")) if isinstance(line, dict) else None
        quantity = _positive(line.get("quantity")) if isinstance(line, dict) else None
        if product is None or quantity is None or quantity > numbers.LARGEST_QUANTITY or product in lines:
            raise InvalidInput(
                "Each line is a product id and a quantity of at least 1, each product once.",
                fields={"lines": [f"Invalid line: {json.dumps(line)[:200]}."]},
            )
        lines[product] = quantity
    return lines


ROUTES: list[BaseRoute] = [
    Route(f"{PREFIX}/order-holds/", hold, methods=["POST"]),
    Route(f"{PREFIX}/order-holds/{{key}}/attach", attach, methods=["POST"]),
    Route(f"{PREFIX}/order-holds/{{key}}/release", release_hold, methods=["POST"]),
    Route(f"{PREFIX}/orders/{{order_id}}/release", release_order, methods=["POST"]),
    Route(f"{PREFIX}/orders/{{order_id}}/fulfil", fulfil_order, methods=["POST"]),
]
