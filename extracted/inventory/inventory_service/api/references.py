"""Checks a write needs beyond its own fields: the warehouse it names (here) and the product (the catalog's)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from inventory_service.api.endpoint import Call
from inventory_service.database import Connection
from inventory_service.errors import InvalidInput
from inventory_service.fields import Field, Reference, Validated
from inventory_service.store import warehouses


async def warehouse_named(conn: Connection, checked: Validated, fields: Sequence[Field]) -> dict[str, Any] | None:
    """The warehouse the body's `warehouse` names, or its does-not-exist message added in field order."""
    if "warehouse" not in checked.values:
        return None
    key = checked.values["warehouse"]
    row = await warehouses.get(conn, key) if key is not None else None
    if row is None:
        checked.add_error("warehouse", Reference.does_not_exist(checked.raw["warehouse"]), fields)
    return row


async def require_product(call: Call, product_id: int) -> None:
    """The monolith's `_require_product`: staff may name any product the catalog has, active or not."""
    if not await call.services.products.visible(product_id, as_caller=call.request.headers):
        raise InvalidInput("Unknown product.", fields={"product": [f"No product with id {product_id}."]})
