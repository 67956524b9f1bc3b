"""Before cutover the monolith owns writes and the engine's sync carries them to the service: once synced, the
service answers for a row written in the monolith exactly as the monolith does, timestamps and all."""

from __future__ import annotations

from data_move import sync

PRODUCTS = "/api/catalog/products/"


def test_a_product_written_in_the_monolith_reaches_the_service_through_sync(monolith, service, stack):
    lamp = {
        "sku": "SYNC-0001",
        "name": "Synced lamp",
        "slug": "synced-lamp",
        "price": "44.00",
        "category": stack.shop.categories["camping"],
    }
    created = monolith.ask("charlie", "POST", PRODUCTS, json_body=lamp)
    assert created.status == 201, created.body
    item = f"{PRODUCTS}{created.body['id']}/"
    try:
        assert service.ask("anon", "GET", item).status == 404  # not yet: nothing writes to the service directly

        sync(stack.monolith_database, stack.catalog_database)
        assert service.ask("anon", "GET", item) == monolith.ask("anon", "GET", item)

        assert monolith.ask("charlie", "PATCH", item, json_body={"price": "39.00", "active": False}).status == 200
        sync(stack.monolith_database, stack.catalog_database)
        assert service.ask("charlie", "GET", item) == monolith.ask("charlie", "GET", item)
        assert service.ask("anon", "GET", item) == monolith.ask("anon", "GET", item)
        listing = {"active": "false", "ordering": "-id"}
        assert service.ask("charlie", "GET", PRODUCTS, params=listing) == monolith.ask(
            "charlie", "GET", PRODUCTS, params=listing
        )
    finally:
        assert monolith.ask("charlie", "DELETE", item).status == 204
        sync(stack.monolith_database, stack.catalog_database)
    assert service.ask("charlie", "GET", item) == monolith.ask("charlie", "GET", item)
    assert service.ask("charlie", "GET", item).status == 404
