"""/api/inventory/warehouses/ and /api/inventory/warehouses/<id>/: staff only, reading too."""

from __future__ import annotations

from typing import Any

import psycopg

from inventory_service.api.endpoint import Answer, Call, Endpoint
from inventory_service.api.lists import list_answer, object_id
from inventory_service.errors import NotFound
from inventory_service.fields import Boolean, Field, Text, Validated, read_only, validate
from inventory_service.store import warehouses

DESCRIPTION = "Warehouses (staff only)."
COUNTRY = (r"^[A-Z]{2}$", "Use a two-letter ISO 3166 country code in capitals, e.g. DE.")
DUPLICATE_CODE = "warehouse with this code already exists."
FIELDS: tuple[Field, ...] = (
    read_only("id", "ID", "integer"),
    Text("code", "Code", max_length=16, options={"max_length": 16}),
    Text("name", "Name", max_length=200, options={"max_length": 200}),
    Text("city", "City", max_length=100, options={"max_length": 100}),
    Text("country", "Country", max_length=2, pattern=COUNTRY, options={"max_length": 2}),
    Boolean("active", "Active"),
    read_only("created_at", "Created at", "datetime"),
    read_only("updated_at", "Updated at", "datetime"),
)


async def list_warehouses(call: Call) -> Answer:
    return await list_answer(
        call,
        listing=warehouses.LISTING,
        select=warehouses.SELECT,
        count_from=warehouses.FROM,
        shown=warehouses.shown,
    )


async def create_warehouse(call: Call) -> Answer:
    body = await call.body()
    checked = validate(body.as_mapping(), FIELDS, form=body.form)
    async with call.services.pool.connection() as conn, conn.transaction():
        await _check_code(conn, checked, other_than=None)
        values = checked.values
        try:
            row = await warehouses.create(
                conn,
                code=values["code"],
                name=values["name"],
                city=values["city"],
                country=values["country"],
                active=values.get("active", True),
            )
        except psycopg.errors.UniqueViolation:  # the same code created concurrently
            checked.add_error("code", DUPLICATE_CODE, FIELDS)
            checked.raise_if_invalid()
            raise
    return 201, warehouses.shown(row)


async def retrieve_warehouse(call: Call) -> Answer:
    async with call.services.pool.connection() as conn:
        return 200, warehouses.shown(await _existing(conn, call))


async def replace_warehouse(call: Call) -> Answer:
    return await _update(call, partial=False)


async def change_warehouse(call: Call) -> Answer:
    return await _update(call, partial=True)


async def delete_warehouse(call: Call) -> Answer:
    async with call.services.pool.connection() as conn, conn.transaction():
        row = await _existing(conn, call)
        if not await warehouses.delete(conn, row["id"]):
            raise NotFound("Not found.")
    return 204, None


async def _update(call: Call, *, partial: bool) -> Answer:
    async with call.services.pool.connection() as conn, conn.transaction():
        row = await _existing(conn, call)
        body = await call.body()
        checked = validate(body.as_mapping(), FIELDS, partial=partial, form=body.form)
        await _check_code(conn, checked, other_than=row["id"])
        try:
            async with conn.transaction():
                updated = await warehouses.update(conn, row["id"], checked.values)
        except psycopg.errors.UniqueViolation:
            checked.add_error("code", DUPLICATE_CODE, FIELDS)
            checked.raise_if_invalid()
            raise
        if updated is None:
            raise NotFound("Not found.")
    return 200, warehouses.shown(updated)


async def _check_code(conn: Any, checked: Validated, *, other_than: int | None) -> None:
    code = checked.values.get("code")
    if code is not None and await warehouses.code_taken(conn, code, other_than=other_than):
        checked.add_error("code", DUPLICATE_CODE, FIELDS)
    checked.raise_if_invalid()


async def _existing(conn: Any, call: Call) -> dict[str, Any]:
    warehouse_id = object_id(call)
    row = await warehouses.get(conn, warehouse_id)
    if row is None:
        raise NotFound("Not found.")
    return row


async def _exists(call: Call) -> bool:
    try:
        async with call.services.pool.connection() as conn:
            await _existing(conn, call)
    except NotFound:
        return False
    return True


LIST = Endpoint(
    name="Warehouse List",
    description=DESCRIPTION,
    handlers={"GET": list_warehouses, "POST": create_warehouse},
    staff_only=True,
    fields=FIELDS,
)
DETAIL = Endpoint(
    name="Warehouse Instance",
    description=DESCRIPTION,
    handlers={
        "GET": retrieve_warehouse,
        "PUT": replace_warehouse,
        "PATCH": change_warehouse,
        "DELETE": delete_warehouse,
    },
    staff_only=True,
    fields=FIELDS,
    exists=_exists,
)
