"""python manage.py seed: a realistic, deterministic shop at a chosen size."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from catalog import selectors as catalog_selectors
from ownership import selectors as ownership_selectors
from seeding.shop import DEFAULT_AS_OF, SEEDED_CUSTOMER_PASSWORD, Made, ShopSeeder, Sizes, flush


class Command(BaseCommand):
    help = (
        "Create a realistic shop: a category tree, products, warehouses and stock, customers with addresses, "
        "orders with lines (open ones holding reservations) and reviews. The same --seed gives the same data. "
        "PostgreSQL is written with COPY, other engines with batched INSERTs; everything in one transaction."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--products", type=int, default=2000, help="products to create (default 2000)")
        parser.add_argument("--customers", type=int, default=300, help="customers to create (default 300)")
        parser.add_argument("--orders", type=int, default=1500, help="orders to create (default 1500)")
        parser.add_argument(
            "--lines-per-order", type=int, default=3, help="average lines per order; each has 1..2N-1 (default 3)"
        )
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        parser.add_argument(
            "--as-of",
            type=dt.date.fromisoformat,
            default=DEFAULT_AS_OF.date(),
            help=f"the day the data set ends, timestamps lie before it (default {DEFAULT_AS_OF.date()})",
        )
        parser.add_argument("--flush", action="store_true", help="delete the shop's data and non-staff users first")
        parser.add_argument("--if-empty", action="store_true", help="do nothing when the catalog already has products")

    def handle(self, *args: Any, **options: Any) -> None:
        sizes = Sizes(options["products"], options["customers"], options["orders"], options["lines_per_order"])
        if min(sizes.products, sizes.customers, sizes.orders) < 0 or sizes.lines_per_order < 1:
            raise CommandError("sizes must be >= 0 and --lines-per-order >= 1")
        if ownership_selectors.data_owner(spec="catalog") != ownership_selectors.Owner.MONOLITH:
            # The seed writes the catalog's tables directly; from cutover on they are the service's copy (and after
            # retire they are gone), so a seed would diverge from the service or fail.
            if options["if_empty"]:
                self.stdout.write("seed: the catalog service owns the catalog; nothing to do (--if-empty)")
                return
            raise CommandError("the catalog service owns the catalog: seed only while the monolith owns it")
        if options["if_empty"] and catalog_selectors.product_list(include_inactive=True).exists():
            self.stdout.write("seed: the catalog already has products; nothing to do (--if-empty)")
            return
        as_of = dt.datetime.combine(options["as_of"], dt.time(), tzinfo=dt.UTC)
        seeder = ShopSeeder(sizes=sizes, seed=options["seed"], as_of=as_of)
        self.stdout.write(
            f"seed {options['seed']} into {connection.vendor} database {connection.settings_dict['NAME']!s}: "
            f"{sizes.products} products, {sizes.customers} customers, {sizes.orders} orders "
            f"x ~{sizes.lines_per_order} lines"
        )
        started = time.perf_counter()
        with transaction.atomic():
            if options["flush"]:
                flush_started = time.perf_counter()
                deleted = flush()
                self.report(Made("flush", {"deleted": sum(deleted.values())}, time.perf_counter() - flush_started))
            try:
                seeder.run(self.report)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        self.stdout.write(f"  {'total':<12} {time.perf_counter() - started:8.2f} s")
        if sizes.customers:
            self.stdout.write(f"seeded customers sign in with password {SEEDED_CUSTOMER_PASSWORD!r}")

    def report(self, made: Made) -> None:
        rows = ", ".join(f"{count:,} {name}" for name, count in made.rows.items()) or "-"
        self.stdout.write(f"  {made.step:<12} {made.seconds:8.2f} s  {rows}")
