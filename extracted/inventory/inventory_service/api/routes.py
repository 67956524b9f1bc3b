"""The URL table: the monolith's `/api/inventory/` routes (DRF's SimpleRouter shapes: an id is any path segment
without "/" or "."), `/healthz`, and the API's JSON 404 for any other `/api/` path."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from inventory_service.api import availability, reservations, stock, warehouses
from inventory_service.health import healthz
from inventory_service.rendering import plain_error_response

PREFIX = "/api/inventory"


class SegmentConvertor(Convertor[str]):
    """DRF's default lookup: `[^/.]+`. The detail view, not the route, decides whether it names a row."""

    regex = "[^/.]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class DigitsConvertor(Convertor[str]):
    """Django's `<int:…>`: ASCII digits (Starlette's `int` takes the same, but converts before we can)."""

    regex = "[0-9]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("segment", SegmentConvertor())
register_url_convertor("digits", DigitsConvertor())


class UnknownApiPath:
    """An ASGI app, not a function, so that Starlette routes every method to it (it takes a function for GET only)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = plain_error_response(404, "not_found", f"No API endpoint at {scope['path']}.")
        await response(scope, receive, send)


# Routes without `methods` take every method: an Endpoint answers 405 itself, after the identity and permission
# checks, as the monolith does.
ROUTES: list[BaseRoute] = [
    Route(f"{PREFIX}/availability/{{product_id:digits}}/", availability.ENDPOINT),
    Route(f"{PREFIX}/warehouses/", warehouses.LIST),
    Route(f"{PREFIX}/warehouses/{{pk:segment}}/", warehouses.DETAIL),
    Route(f"{PREFIX}/stock/", stock.LIST),
    Route(f"{PREFIX}/stock/{{pk:segment}}/", stock.DETAIL),
    Route(f"{PREFIX}/reservations/", reservations.LIST),
    Route(f"{PREFIX}/reservations/{{pk:segment}}/", reservations.DETAIL),
    Route(f"{PREFIX}/reservations/{{pk:segment}}/release/", reservations.RELEASE),
    Route("/healthz", healthz, methods=["GET", "HEAD"]),
    Route("/api/{rest:path}", UnknownApiPath()),
]
