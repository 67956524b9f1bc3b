"""Placing an order of 50 lines through the monolith's catalog seam: local (the monolith owns the catalog) vs
remote (the catalog service owns it), measured in the same run, and the ratio (docs/seam.md).

    .venv/bin/python bench/seam/order_latency.py [--orders 200] [--lines 50] [--database-url URL] [--json]

The monolith runs in this process with its production settings on a scratch SQLite file (or `--database-url`, e.g.
a PostgreSQL database that exists and is empty); the catalog service is a real process on loopback (granian, one
worker, its production settings, its own SQLite file). Both hold the same 50 products with the same ids, and the
monolith has stock for them. Each sample is `orders.services.order_create` with 50 lines — price lookup, order,
lines, stock reservations, one transaction — with the owner recorded as the monolith (local) or the service
(remote: one batched GET /api/catalog/products/?ids=… signed as the monolith). Samples alternate local and remote
so that both see the same machine. The price lookup alone is measured the same way.

This is a measurement, not a test: both processes and the database share the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from alternate import compare_owners

ROOT = Path(__file__).resolve().parents[2]
MONOLITH = ROOT / "monolith"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200, help="orders placed each way (default 200)")
    parser.add_argument("--lines", type=int, default=50, help="lines per order (default 50, at most 100)")
    parser.add_argument("--database-url", help="the monolith's database (default: a scratch SQLite file)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-seam-") as scratch:
        folder = Path(scratch)
        database_url = args.database_url or f"sqlite:///{folder / 'monolith.sqlite3'}"
        figures = run(folder, database_url, orders=args.orders, lines=args.lines)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"order of {args.lines} lines, {args.orders} each way, monolith on {figures['engine']}")
        for what in ("order", "lookup"):
            local, remote = figures[what]["local"], figures[what]["remote"]
            print(
                f"  {what:<7} local  p50 {local['p50_ms']:7.2f} ms  p90 {local['p90_ms']:7.2f} ms\n"
                f"  {'':<7} remote p50 {remote['p50_ms']:7.2f} ms  p90 {remote['p90_ms']:7.2f} ms"
                f"   remote/local {figures[what]['ratio_p50']:.2f}x (p50)"
            )
    return 0


def run(folder: Path, database_url: str, *, orders: int, lines: int) -> dict[str, Any]:
    # The monolith's modules are imported inside the functions: they need it on sys.path, and Django set up.
    sys.path.insert(0, str(MONOLITH))
    from common.testing_services import IDENTITY_KEY, catalog_service

    with catalog_service(folder) as service:
        _django(database_url, service.url, IDENTITY_KEY)
        from django.db import connection

        product_ids, customer_id = _shop(service, lines, orders)
        place, lookup = _samplers(customer_id, product_ids)
        return {
            "engine": connection.vendor,
            "order": compare_owners("catalog", place, orders, remote="remote"),
            "lookup": compare_owners("catalog", lookup, orders, remote="remote"),
        }


def _django(database_url: str, catalog_url: str, identity_key: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DATABASE_URL=database_url,
        SECRET_KEY="bench-not-secret",  # noqa: S106 - a scratch database for one run
        ALLOWED_HOSTS="127.0.0.1",
        CATALOG_SERVICE_URL=catalog_url,
        STRANGLER_IDENTITY_KEY=identity_key,
        LOG_LEVEL="WARNING",
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def _shop(service: Any, lines: int, orders: int) -> tuple[list[int], int]:
    """The same products on both sides, with the same ids (both databases are new), and stock for every order."""
    from catalog import services as catalog_services
    from customers import services as customer_services
    from django.contrib.auth import get_user_model
    from inventory import services as inventory_services

    remote_category = service.create("/api/catalog/categories/", {"name": "Bench", "slug": "bench"})["id"]
    category = catalog_services.category_create(name="Bench", slug="bench")
    assert category.id == remote_category
    warehouse = inventory_services.warehouse_create(code="BENCH", name="Bench", city="Berlin", country="DE")
    ids = []
    for n in range(lines):
        fields = {"sku": f"BENCH-{n:03d}", "name": f"Bench product {n}", "slug": f"bench-{n}", "price": f"{n + 1}.50"}
        remote = service.create("/api/catalog/products/", {**fields, "category": remote_category})
        local = catalog_services.product_create(**{**fields, "price": Decimal(fields["price"])}, category=category)
        assert local.id == remote["id"]
        inventory_services.stock_create(product_id=local.id, warehouse=warehouse, quantity=4 * orders)
        ids.append(local.id)
    user = get_user_model().objects.create_user("bench")
    return ids, customer_services.customer_id_for_user(user=user)


def _samplers(customer_id: int, product_ids: list[int]) -> tuple[Callable[[], None], Callable[[], None]]:
    from catalog import selectors as catalog_selectors
    from orders import services as order_services

    lines = [order_services.LineRequest(product_id=pid, quantity=1) for pid in product_ids]

    def place() -> None:
        order_services.order_create(customer_id=customer_id, lines=lines)

    def lookup() -> None:
        assert len(catalog_selectors.product_price_quotes(product_ids=product_ids)) == len(product_ids)

    return place, lookup


if __name__ == "__main__":
    sys.exit(main())
