"""/api/inventory/reservations/ (list, reserve), /<id>/ (read) and /<id>/release/: staff only.

A reservation request may carry `Idempotency-Key` (the service's extension; without it the request behaves as in
the monolith): the first request with a key is carried out and its answer stored with the key, in the same
transaction as the reservation; a retry with the same key and the same body gets that answer again (and
`Idempotent-Replayed: true`), with another body a 422. Keys are per caller and kept 24 hours.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from inventory_service.api.endpoint import Answer, Call, Endpoint
from inventory_service.api.lists import list_answer, object_id
from inventory_service.api.references import require_product, warehouse_named
from inventory_service.database import Connection
from inventory_service.errors import ApiError, IdempotencyMismatch, InvalidInput, NotFound
from inventory_service.fields import Field, Id, Integer, Reference, read_only, validate
from inventory_service.number_rules import LARGEST_QUANTITY
from inventory_service.rendering import Prerendered, json_bytes
from inventory_service.store import idempotency, reservations

DESCRIPTION = "Stock held for orders (made by the orders app) or by staff by hand; released rather than deleted."
IDEMPOTENCY_HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
FIELDS: tuple[Field, ...] = (
    read_only("id", "ID", "integer"),
    Id("product", "Product", min_value=1, options={"min_value": 1}),
    Reference("warehouse", "Warehouse"),
    Integer(
        "quantity",
        "Quantity",
        min_value=1,
        max_value=LARGEST_QUANTITY,
        options={"min_value": 1, "max_value": LARGEST_QUANTITY},
    ),
    read_only("order", "Order", "integer"),
    read_only("status", "Status", "choice"),
    read_only("created_at", "Created at", "datetime"),
    read_only("updated_at", "Updated at", "datetime"),
)


async def list_reservations(call: Call) -> Answer:
    return await list_answer(
        call,
        listing=reservations.LISTING,
        select=reservations.SELECT,
        count_from=reservations.FROM,
        shown=reservations.shown,
    )


async def retrieve_reservation(call: Call) -> Answer:
    reservation_id = object_id(call)
    async with call.services.pool.connection() as conn:
        row = await reservations.get(conn, reservation_id)
    if row is None:
        raise NotFound("Not found.")
    return 200, reservations.shown(row)


async def reserve(call: Call) -> Answer:
    key = _idempotency_key(call)
    body = await call.body()
    data = body.as_mapping()
    async with call.services.pool.connection() as conn:
        if key is None:
            return await _reserve(call, conn, data, form=body.form)
        assert call.caller.user_id is not None  # staff only
        fingerprint = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).digest()
        async with conn.transaction():
            stored = await idempotency.claim(conn, user_id=call.caller.user_id, key=key, fingerprint=fingerprint)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise IdempotencyMismatch(
                        "This Idempotency-Key was used with another request; use a new key for a new reservation.",
                        fields={"Idempotency-Key": ["Already used with a different body."]},
                    )
                return stored.status, Prerendered(stored.body, headers={"idempotent-replayed": "true"})
            try:
                status, answer = await _reserve(call, conn, data, form=body.form)
            except ApiError as error:
                if error.status >= 500:
                    raise  # nothing was decided: the claim rolls back with it and a retry runs again
                status, answer = error.status, error.body()
            await idempotency.record(conn, user_id=call.caller.user_id, key=key, status=status, body=json_bytes(answer))
    return status, answer


async def _reserve(call: Call, conn: Connection, data: dict[str, Any], *, form: bool) -> Answer:
    """One connection throughout (a keyed request holds its claim on it): no request waits for a second one."""
    checked = validate(data, FIELDS, form=form)
    warehouse = await warehouse_named(conn, checked, FIELDS)
    checked.raise_if_invalid()
    assert warehouse is not None
    product_id = checked.values["product"]
    await require_product(call, product_id)
    async with conn.transaction():
        row = await reservations.reserve(
            conn,
            product_id=product_id,
            warehouse_id=warehouse["id"],
            warehouse_code=warehouse["code"],
            quantity=checked.values["quantity"],
        )
    return 201, reservations.shown(row)


async def release_reservation(call: Call) -> Answer:
    reservation_id = object_id(call)
    async with call.services.pool.connection() as conn, conn.transaction():
        row = await reservations.release(conn, reservation_id)
    if row is None:
        raise NotFound("Not found.")
    return 200, reservations.shown(row)


def _idempotency_key(call: Call) -> str | None:
    key = call.request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        message = f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters."
        raise InvalidInput(message, fields={"Idempotency-Key": [message]})
    return key


LIST = Endpoint(
    name="Reservation List",
    description=DESCRIPTION,
    handlers={"GET": list_reservations, "POST": reserve},
    staff_only=True,
    fields=FIELDS,
)
DETAIL = Endpoint(
    name="Reservation Instance",
    description=DESCRIPTION,
    handlers={"GET": retrieve_reservation},
    staff_only=True,
)
RELEASE = Endpoint(
    name="Release",
    description=DESCRIPTION,
    handlers={"POST": release_reservation},
    staff_only=True,
    fields=FIELDS,
)
