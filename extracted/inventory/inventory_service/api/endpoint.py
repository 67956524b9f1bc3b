"""One URL of the API and how a request to it is answered, in the monolith's (DRF's) order:

1. the caller's identity (a header that does not verify is a 401 even where anyone may read);
2. the permission (staff only: 401 for nobody, 403 for a customer);
3. the method (405 naming it; HEAD is GET without a body; OPTIONS describes the endpoint);
4. the handler, whose ApiError becomes the error body.

Every answer carries the endpoint's `Allow`, and `Vary: Cookie` where the monolith would have read its session.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from inventory_service.bodies import PARSES, Body, read_body
from inventory_service.callers import ANONYMOUS, Caller, caller_of, would_read_session
from inventory_service.errors import ApiError, MethodNotAllowed, NotAuthenticated, PermissionDenied
from inventory_service.fields import Field, describe
from inventory_service.rendering import JSON, api_response, error_response
from inventory_service.services import Services

logger = logging.getLogger(__name__)
METHOD_ORDER = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


@dataclass
class Call:
    """One request as a handler sees it."""

    request: Request
    caller: Caller
    services: Services
    _body: Body | None = field(default=None, init=False)

    @property
    def query(self) -> Mapping[str, str]:
        return self.request.query_params

    @property
    def path_params(self) -> Mapping[str, Any]:
        """Ids are integers already (the routes' `id` converter)."""
        return self.request.path_params

    async def body(self) -> Body:
        if self._body is None:
            self._body = await read_body(self.request)
        return self._body

    def absolute_url(self) -> str:
        """This request's URL without its query, as the monolith builds it: the client's Host, and https when the
        proxy in front says so (X-Forwarded-Proto, Django's SECURE_PROXY_SSL_HEADER)."""
        forwarded = self.request.headers.get("x-forwarded-proto", "").split(",", 1)[0].strip()
        scheme = "https" if forwarded == "https" else "http"
        return f"{scheme}://{self.request.headers.get('host', '')}{self.request.url.path}"


Answer = tuple[int, Any]
Handler = Callable[[Call], Awaitable[Answer]]


@dataclass(frozen=True)
class Endpoint:
    name: str  # as OPTIONS names it ("Warehouse List", "Warehouse Instance", …)
    description: str
    handlers: Mapping[str, Handler]
    staff_only: bool
    # OPTIONS describes these under "actions" for POST or PUT, when the caller may use them (and, for PUT, when
    # the object exists: `exists`).
    fields: Sequence[Field] = ()
    exists: Callable[[Call], Awaitable[bool]] | None = None

    @cached_property
    def allowed(self) -> tuple[str, ...]:
        methods = set(self.handlers) | {"OPTIONS"} | ({"HEAD"} if "GET" in self.handlers else set())
        return tuple(m for m in METHOD_ORDER if m in methods)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI: as an app (not a function), a Starlette route hands it every method."""
        response = await self.respond(Request(scope, receive))
        await response(scope, receive, send)

    async def respond(self, request: Request) -> Response:
        method = request.method.upper()
        vary_cookie = would_read_session(request.headers)
        services: Services = request.app.state.services
        try:
            caller = caller_of(request.headers, settings=services.settings)
            self._check_permission(caller)
            call = Call(request=request, caller=caller, services=services)
            if method == "OPTIONS":
                status, data = 200, await self._describe(call)
            elif method in self.handlers or (method == "HEAD" and "GET" in self.handlers):
                status, data = await self.handlers["GET" if method == "HEAD" else method](call)
            else:
                raise MethodNotAllowed(request.method)
        except ApiError as error:
            return error_response(error, allow=self.allowed, vary_cookie=vary_cookie)
        response = api_response(status, data, allow=self.allowed, vary_cookie=vary_cookie)
        if method == "HEAD":
            return _without_body(response)
        return response

    def _check_permission(self, caller: Caller) -> None:
        if not self.staff_only or caller.is_staff:
            return
        if caller is ANONYMOUS or not caller.is_authenticated:
            raise NotAuthenticated()
        raise PermissionDenied()

    async def _describe(self, call: Call) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "renders": [JSON],
            "parses": PARSES,
        }
        actions = {}
        for method in ("PUT", "POST"):
            if method not in self.allowed or not self.fields:
                continue
            if method == "PUT" and self.exists is not None and not await self.exists(call):
                continue
            actions[method] = describe(self.fields)
        if actions:
            metadata["actions"] = actions
        return metadata


def _without_body(response: Response) -> Response:
    headers = {k: v for k, v in response.headers.items() if k != "content-length"}
    return Response(b"", status_code=response.status_code, headers=headers)
