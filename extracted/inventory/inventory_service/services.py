"""What handlers need from the process, made once at start: the settings, the database pool, the catalog client."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from inventory_service.database import Connection
from inventory_service.products import ProductDirectory
from inventory_service.settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    pool: AsyncConnectionPool[Connection]
    products: ProductDirectory
