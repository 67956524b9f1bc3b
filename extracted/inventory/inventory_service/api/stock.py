"""/api/inventory/stock/ and /api/inventory/stock/<id>/: units on hand, staff only. Only the quantity of a stock
record changes after it is made (PATCH); there is no PUT."""

from __future__ import annotations

from typing import Any

from inventory_service.api.endpoint import Answer, Call, Endpoint
from inventory_service.api.lists import list_answer, object_id
from inventory_service.api.references import require_product, warehouse_named
from inventory_service.errors import NotFound
from inventory_service.fields import Field, Id, Integer, Reference, read_only, validate
from inventory_service.number_rules import LARGEST_QUANTITY
from inventory_service.store import stock

DESCRIPTION = "Units on hand per product and warehouse (staff only). Only the quantity of a stock record changes."
FIELDS: tuple[Field, ...] = (
    read_only("id", "ID", "integer"),
    Id("product", "Product", min_value=1, options={"min_value": 1}),
    Reference("warehouse", "Warehouse"),
    Integer(
        "quantity",
        "Quantity",
        min_value=0,
        max_value=LARGEST_QUANTITY,
        options={"min_value": 0, "max_value": LARGEST_QUANTITY},
    ),
    read_only("reserved", "Reserved", "integer"),
    read_only("available", "Available", "integer"),
    read_only("created_at", "Created at", "datetime"),
    read_only("updated_at", "Updated at", "datetime"),
)
QUANTITY_CHANGE: tuple[Field, ...] = (Integer("quantity", "Quantity", min_value=0, max_value=LARGEST_QUANTITY),)


async def list_stock(call: Call) -> Answer:
    return await list_answer(call, listing=stock.LISTING, select=stock.SELECT, count_from=stock.FROM, shown=stock.shown)


async def create_stock(call: Call) -> Answer:
    body = await call.body()
    checked = validate(body.as_mapping(), FIELDS, form=body.form)
    async with call.services.pool.connection() as conn:
        warehouse = await warehouse_named(conn, checked, FIELDS)
        checked.raise_if_invalid()
        assert warehouse is not None
    product_id = checked.values["product"]
    await require_product(call, product_id)
    async with call.services.pool.connection() as conn, conn.transaction():
        stock_id = await stock.create(
            conn, product_id=product_id, warehouse_id=warehouse["id"], quantity=checked.values["quantity"]
        )
        row = await stock.get(conn, stock_id)
    assert row is not None
    return 201, stock.shown(row)


async def retrieve_stock(call: Call) -> Answer:
    async with call.services.pool.connection() as conn:
        return 200, stock.shown(await _existing(conn, call))


async def change_quantity(call: Call) -> Answer:
    async with call.services.pool.connection() as conn, conn.transaction():
        row = await _existing(conn, call)
        body = await call.body()
        checked = validate(body.as_mapping(), QUANTITY_CHANGE, form=body.form)
        checked.raise_if_invalid()
        if not await stock.set_quantity(conn, row["id"], checked.values["quantity"]):
            raise NotFound("Not found.")
        changed = await stock.get(conn, row["id"])
    assert changed is not None
    return 200, stock.shown(changed)


async def delete_stock(call: Call) -> Answer:
    async with call.services.pool.connection() as conn, conn.transaction():
        row = await _existing(conn, call)
        if not await stock.delete(conn, row["id"]):
            raise NotFound("Not found.")
    return 204, None


async def _existing(conn: Any, call: Call) -> dict[str, Any]:
    stock_id = object_id(call)
    row = await stock.get(conn, stock_id)
    if row is None:
        raise NotFound("Not found.")
    return row


LIST = Endpoint(
    name="Stock List",
    description=DESCRIPTION,
    handlers={"GET": list_stock, "POST": create_stock},
    staff_only=True,
    fields=FIELDS,
)
DETAIL = Endpoint(
    name="Stock Instance",
    description=DESCRIPTION,
    handlers={"GET": retrieve_stock, "PATCH": change_quantity, "DELETE": delete_stock},
    staff_only=True,
    fields=FIELDS,
)
