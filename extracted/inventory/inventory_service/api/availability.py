"""/api/inventory/availability/<product id>/: units of an active product free to sell. Anyone may ask."""

from __future__ import annotations

from inventory_service.api.endpoint import Answer, Call, Endpoint
from inventory_service.errors import NotFound
from inventory_service.store import stock


async def availability(call: Call) -> Answer:
    product_id: int = call.path_params["product_id"]  # an integer by the one rule: the route takes nothing else
    # Asked as nobody: availability is about what is on sale, so an inactive product is unknown even to staff.
    if not await call.services.products.visible(product_id):
        raise NotFound(f"No product with id {product_id}.")
    async with call.services.pool.connection() as conn:
        available = await stock.available_for_sale(conn, product_id)
    return 200, {"product": product_id, "available": available}


ENDPOINT = Endpoint(
    name="Availability",
    description="Units of an active product free to sell across active warehouses. Anyone may ask.",
    handlers={"GET": availability},
    staff_only=False,
)
