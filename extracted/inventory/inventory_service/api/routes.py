"""The URL table: the monolith's `/api/inventory/` routes (an id in a path is an integer by the monolith's one
rule, else no route matches it), `/healthz`, and the API's JSON 404 for any other `/api/` path — after the
identity, judged first there too."""

from __future__ import annotations

from typing import Any

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from inventory_service import number_rules as numbers
from inventory_service.api import availability, internal, reservations, stock, warehouses
from inventory_service.callers import caller_of, would_read_session
from inventory_service.errors import ApiError
from inventory_service.health import healthz
from inventory_service.rendering import error_response, plain_error_response
from inventory_service.services import Services

PREFIX = "/api/inventory"


class IdConvertor(Convertor[int | None]):
    """The monolith's `<id:…>`: the grammar here, the range in `convert` (None: outside bigint, see IdRoute)."""

    regex = "[+-]?[0-9]+"

    def convert(self, value: str) -> int | None:
        try:
            return numbers.integer(value)
        except numbers.InvalidInteger:
            return None

    def to_string(self, value: int | None) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())


class IdRoute(Route):
    """A route whose ids must be integers by the one rule: one outside bigint matches nothing, so the request goes on
    to the API's 404, as in the monolith (whose converter refuses it)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE and None in child.get("path_params", {}).values():
            return Match.NONE, {}
        return match, child


class UnknownApiPath:
    """An ASGI app, not a function, so that Starlette routes every method to it (it takes a function for GET only).

    The monolith judges credentials before it resolves a URL: an identity that does not verify is its 401 here too,
    and where it would have read its session (credentials without a token) the 404 varies on Cookie."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        judged = any(request.headers.get(name) for name in CREDENTIAL_HEADERS)
        vary_cookie = judged and would_read_session(request.headers)
        services: Services = request.app.state.services
        response: Any
        try:
            if judged:
                caller_of(request.headers, settings=services.settings)
            response = plain_error_response(404, "not_found", f"No API endpoint at {scope['path']}.")
            if vary_cookie:
                response.headers["vary"] = "Cookie"
        except ApiError as error:
            response = error_response(error, vary_cookie=vary_cookie)
        await response(scope, receive, send)


# What the proxy passes on from the client (the monolith judges a request that has one), and the identity.
# The client's credentials, the proxy's word that it withheld some (docs/identity.md), and the identity.
CREDENTIAL_HEADERS = ("authorization", "cookie", "x-strangler-credentials", "x-strangler-identity")


# Routes without `methods` take every method: an Endpoint answers 405 itself, after the identity and permission
# checks, as the monolith does.
ROUTES: list[BaseRoute] = [
    IdRoute(f"{PREFIX}/availability/{{product_id:id}}/", availability.ENDPOINT),
    Route(f"{PREFIX}/warehouses/", warehouses.LIST),
    IdRoute(f"{PREFIX}/warehouses/{{pk:id}}/", warehouses.DETAIL),
    Route(f"{PREFIX}/stock/", stock.LIST),
    IdRoute(f"{PREFIX}/stock/{{pk:id}}/", stock.DETAIL),
    Route(f"{PREFIX}/reservations/", reservations.LIST),
    IdRoute(f"{PREFIX}/reservations/{{pk:id}}/", reservations.DETAIL),
    IdRoute(f"{PREFIX}/reservations/{{pk:id}}/release/", reservations.RELEASE),
    Route("/healthz", healthz, methods=["GET", "HEAD"]),
    *internal.ROUTES,
    Route("/api/{rest:path}", UnknownApiPath()),
]
