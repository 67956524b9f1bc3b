"""The ASGI application: routes, the Host check, and the process's resources (pool, catalog client) opened at
start and closed at stop. `from_environment` is what the server imports."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from inventory_service.api.routes import ROUTES
from inventory_service.database import pool
from inventory_service.products import ProductDirectory
from inventory_service.rendering import plain_error_response
from inventory_service.services import Services
from inventory_service.settings import Settings

logger = logging.getLogger(__name__)


def create_app(settings: Settings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        connections = pool(settings.database_url, size=settings.pool_size)
        await connections.open()
        products = ProductDirectory(settings.catalog_url, timeout=settings.catalog_timeout_seconds)
        app.state.services = Services(settings=settings, pool=connections, products=products)
        try:
            yield
        finally:
            await products.close()
            await connections.close()

    app = Starlette(routes=ROUTES, lifespan=lifespan)
    app.router.redirect_slashes = False  # an unknown /api/ path is the API's 404, never a redirect
    app.add_middleware(AllowedHosts, hosts=settings.allowed_hosts)
    return app


def from_environment() -> Starlette:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(), format="%(levelname)s %(name)s %(message)s")
    return create_app(Settings.from_environment())


class AllowedHosts:
    """Django's ALLOWED_HOSTS: a request for another Host is a 400 (the monolith's JSON for /api/). /healthz is
    exempt, so that an orchestrator may probe the process by its address."""

    def __init__(self, app: ASGIApp, *, hosts: tuple[str, ...]) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] != "/healthz" and not self._allowed(scope):
            response = plain_error_response(400, "bad_request", "Bad request.")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        domain = host.lower().rsplit(":", 1)[0] if not host.endswith("]") else host.lower()
        domain = domain.removesuffix(".")
        return any(
            pattern == "*"
            or domain == pattern
            or (pattern.startswith(".") and (domain.endswith(pattern) or domain == pattern[1:]))
            for pattern in self.hosts
        )
