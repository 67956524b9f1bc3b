"""The answer of a list endpoint: filters, search and ordering from the query, one page of rows, and links."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inventory_service.api.endpoint import Answer, Call
from inventory_service.listing import Listing, order_by, where
from inventory_service.pagination import links, page_size
from inventory_service.store.paging import page_of


async def list_answer(
    call: Call, *, listing: Listing, select: str, count_from: str, shown: Callable[[dict[str, Any]], dict[str, Any]]
) -> Answer:
    # The monolith's order: filters and search (400), then the page size (400), then the page (404).
    conditions = where(listing, call.query)
    order = order_by(listing, call.query)
    size = page_size(call.query)
    async with call.services.pool.connection() as conn:
        page, rows = await page_of(
            conn, select=select, count_from=count_from, where=conditions, order=order, query=call.query, size=size
        )
    next_url, previous_url = links(page, base_url=call.absolute_url(), query_string=call.request.url.query)
    return 200, {"count": page.count, "next": next_url, "previous": previous_url, "results": [shown(r) for r in rows]}


def object_id(call: Call, name: str = "pk") -> int:
    """The id in the path, an integer by the one rule (the route matched nothing otherwise)."""
    value: int = call.path_params[name]
    return value
