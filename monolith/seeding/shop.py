"""Builds a realistic shop at a chosen size: categories, warehouses, products, customers, orders, stock, reviews.

Every step draws from its own random stream, seeded from `--seed` and the step's name, so the same seed gives
the same rows and changing one size does not reshuffle the others. Times are relative to `as_of` (a fixed
date by default), never to the clock, for the same reason. Ids are chosen here, not by the database, so rows
can reference each other while being streamed; the sequences are reset at the end.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, models
from django.db.models import Sum

from catalog.models import Category, Product
from customers.models import Address, Customer
from inventory.models import Reservation, Stock, Warehouse
from orders.models import Order, OrderLine
from reviews.models import Review
from seeding import vocabulary as words
from seeding.writers import TableWriter, next_id, reset_sequences

DEFAULT_AS_OF = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
SEEDED_CUSTOMER_PASSWORD = "shopper-password"  # noqa: S105 - dev data, printed by the command
AUDIENCES = ("Women's", "Men's", "Kids'")
SPLIT_BY_AUDIENCE = {"Clothing", "Footwear"}
ORDER_CHUNK = 5000
REVIEW_RATE = 0.12
SHOP_MODELS: list[type[models.Model]] = [
    Category,
    Product,
    Warehouse,
    Stock,
    Reservation,
    Customer,
    Address,
    Order,
    OrderLine,
    Review,
]


@dataclass(frozen=True)
class Sizes:
    products: int
    customers: int
    orders: int
    lines_per_order: int


@dataclass(frozen=True)
class Leaf:
    category_id: int
    department: str
    nouns: list[str]


@dataclass
class Made:
    """What one step wrote, for the report."""

    step: str
    rows: dict[str, int]
    seconds: float = 0.0


@dataclass
class World:
    """What later steps need to know about earlier ones."""

    leaves: list[Leaf] = field(default_factory=list)
    warehouse_ids: list[int] = field(default_factory=list)
    # currency -> parallel lists of product ids, prices and names, active products only
    catalogue: dict[str, tuple[list[int], list[Decimal], list[str]]] = field(default_factory=dict)
    stock: dict[tuple[int, int], int] = field(default_factory=dict)
    stock_places: dict[int, list[int]] = field(default_factory=dict)
    # (product, warehouse) -> id of stock rows that were already in the database
    stock_ids: dict[tuple[int, int], int] = field(default_factory=dict)
    # (product, warehouse) -> units already held by active reservations in the database
    held: dict[tuple[int, int], int] = field(default_factory=dict)
    customer_ids: list[int] = field(default_factory=list)
    default_address: dict[int, int] = field(default_factory=dict)


class ShopSeeder:
    def __init__(self, *, sizes: Sizes, seed: int, as_of: dt.datetime = DEFAULT_AS_OF) -> None:
        self.sizes = sizes
        self.seed = seed
        self.as_of = as_of
        self.writer = TableWriter(connection)
        self.world = World()

    def rng(self, step: str) -> random.Random:
        return random.Random(f"{self.seed}:{step}")

    def steps(self) -> list[tuple[str, Callable[[], dict[str, int]]]]:
        return [
            ("categories", self.categories),
            ("warehouses", self.warehouses),
            ("products", self.products),
            ("customers", self.customers),
            ("orders", self.orders),
            ("stock", self.write_stock),
        ]

    def run(self, report: Callable[[Made], None]) -> list[Made]:
        made = []
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # check foreign keys row by row, not all at commit
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for name, step in self.steps():
            started = time.perf_counter()
            result = Made(name, step(), time.perf_counter() - started)
            report(result)
            made.append(result)
        started = time.perf_counter()
        reset_sequences(connection, [*SHOP_MODELS, get_user_model()])
        report(Made("sequences", {}, time.perf_counter() - started))
        return made

    # --- catalog -------------------------------------------------------------------------------------------

    def categories(self) -> dict[str, int]:
        existing = dict(Category.objects.values_list("slug", "id"))
        new_id = next_id(Category)
        rows: list[tuple[object, ...]] = []
        created_at = self.as_of - dt.timedelta(days=3 * 365)

        def ensure(name: str, slug: str, parent_id: int | None) -> int:
            nonlocal new_id
            if slug not in existing:
                existing[slug] = new_id
                rows.append((new_id, name, slug, parent_id, created_at, created_at))
                new_id += 1
            return existing[slug]

        for department, subcategories in words.CATEGORY_TREE.items():
            top = ensure(department, slugify(department), None)
            for sub, nouns in subcategories.items():
                middle = ensure(sub, slugify(f"{department} {sub}"), top)
                if department not in SPLIT_BY_AUDIENCE:
                    self.world.leaves.append(Leaf(middle, department, nouns))
                    continue
                for audience in AUDIENCES:
                    leaf = ensure(f"{audience} {sub}", slugify(f"{department} {sub} {audience}"), middle)
                    self.world.leaves.append(Leaf(leaf, department, nouns))
        fields = ["id", "name", "slug", "parent", "created_at", "updated_at"]
        return {"categories": self.writer.write(Category, fields, rows)}

    def warehouses(self) -> dict[str, int]:
        existing = dict(Warehouse.objects.values_list("code", "id"))
        new_id = next_id(Warehouse)
        rows = []
        opened = self.as_of - dt.timedelta(days=5 * 365)
        for code, name, city, country in words.WAREHOUSES:
            if code not in existing:
                existing[code] = new_id
                rows.append((new_id, code, name, city, country, True, opened, opened))
                new_id += 1
            self.world.warehouse_ids.append(existing[code])
        fields = ["id", "code", "name", "city", "country", "active", "created_at", "updated_at"]
        return {"warehouses": self.writer.write(Warehouse, fields, rows)}

    def products(self) -> dict[str, int]:
        rng = self.rng("products")
        first = next_id(Product)
        count = self.sizes.products
        span = dt.timedelta(days=3 * 365).total_seconds()
        currencies, weights = zip(*words.CURRENCIES, strict=True)
        catalogue = self.world.catalogue

        def rows() -> Iterator[tuple[object, ...]]:
            for n in range(count):
                pid = first + n
                leaf = rng.choice(self.world.leaves)
                adjectives = words.DEPARTMENT_ADJECTIVES.get(leaf.department, words.ADJECTIVES)
                name = f"{rng.choice(words.BRANDS)} {rng.choice(adjectives)} {rng.choice(leaf.nouns)}"
                if rng.random() < 0.5:
                    name += f", {rng.choice(words.COLOURS)}"
                low, high = words.PRICE_BANDS[leaf.department]
                price = Decimal(f"{int(math.exp(rng.uniform(math.log(low), math.log(high))))}.{rng.choice(CENTS)}")
                currency = rng.choices(currencies, weights)[0]
                active = rng.random() < 0.95
                description = f"{rng.choice(words.DESCRIPTION_OPENERS)}. {rng.choice(words.DESCRIPTION_DETAILS)}"
                # Ids grow with creation time, as they do in a shop that has been running for years.
                created = self.as_of - dt.timedelta(seconds=span * (1 - (n + rng.random()) / max(count, 1)))
                updated = min(created + dt.timedelta(days=rng.uniform(0, 120)), self.as_of)
                sku = f"{leaf.department[:3].upper()}-{pid:07d}"
                slug = f"{slugify(name)}-{pid}"
                if active:
                    ids, prices, names = catalogue.setdefault(currency, ([], [], []))
                    ids.append(pid)
                    prices.append(price)
                    names.append(name)
                yield (pid, sku, name, slug, description, price, currency, active, leaf.category_id, created, updated)

        fields = ["id", "sku", "name", "slug", "description", "price", "currency", "active", "category",
                  "created_at", "updated_at"]  # fmt: skip
        written = self.writer.write(Product, fields, rows())
        self._place_stock(first, count)
        return {"products": written}

    def _place_stock(self, first: int, count: int) -> None:
        """Decide stock levels now; they are written after the orders, which may reserve more than is there."""
        rng = self.rng("stock")
        for pid in range(first, first + count):
            places = rng.sample(self.world.warehouse_ids, rng.choice((1, 1, 2, 2, 3)))
            self.world.stock_places[pid] = places
            for warehouse_id in places:
                self.world.stock[(pid, warehouse_id)] = 0 if rng.random() < 0.08 else int(rng.expovariate(1 / 60)) + 1

    # --- customers -----------------------------------------------------------------------------------------

    def customers(self) -> dict[str, int]:
        rng = self.rng("customers")
        user_model = get_user_model()
        first_user, first_customer, next_address = next_id(user_model), next_id(Customer), next_id(Address)
        # One hash for every seeded customer: hashing each password would dominate the step.
        password = make_password(SEEDED_CUSTOMER_PASSWORD, salt=f"seed{self.seed}") if self.sizes.customers else ""
        users, customers, addresses = [], [], []
        span = dt.timedelta(days=3 * 365).total_seconds()
        for n in range(self.sizes.customers):
            uid, cid = first_user + n, first_customer + n
            first, last = rng.choice(words.FIRST_NAMES), rng.choice(words.LAST_NAMES)
            username = f"{ascii_word(first)}.{ascii_word(last)}{uid}"
            joined = self.as_of - dt.timedelta(seconds=span * (1 - (n + rng.random()) / max(self.sizes.customers, 1)))
            users.append((uid, password, None, False, username, first, last, f"{username}@example.com", False, True,
                          joined))  # fmt: skip
            phone = f"+49 1{rng.randint(50, 79)} {rng.randint(1000000, 9999999)}" if rng.random() < 0.6 else ""
            customers.append((cid, uid, phone, rng.random() < 0.3, joined, joined))
            for k in range(2 if rng.random() < 0.3 else 1):
                city, postal_code, country = rng.choice(words.CITIES)
                street = f"{rng.choice(words.STREETS)} {rng.randint(1, 180)}"
                addresses.append((next_address, cid, ("Home", "Work")[k], f"{first} {last}", street, "", city,
                                  postal_code, country, k == 0, joined, joined))  # fmt: skip
                if k == 0:
                    self.world.default_address[cid] = next_address
                next_address += 1
            self.world.customer_ids.append(cid)
        user_fields = ["id", "password", "last_login", "is_superuser", "username", "first_name", "last_name", "email",
                       "is_staff", "is_active", "date_joined"]  # fmt: skip
        address_fields = ["id", "customer", "label", "recipient", "line1", "line2", "city", "postal_code", "country",
                          "is_default", "created_at", "updated_at"]  # fmt: skip
        customer_fields = ["id", "user", "phone", "marketing_opt_in", "created_at", "updated_at"]
        return {
            "users": self.writer.write(user_model, user_fields, users),
            "customers": self.writer.write(Customer, customer_fields, customers),
            "addresses": self.writer.write(Address, address_fields, addresses),
        }

    # --- orders, reservations, reviews ---------------------------------------------------------------------

    def orders(self) -> dict[str, int]:
        self._load_missing_world()
        if not self.sizes.orders:
            return {"orders": 0, "lines": 0, "reservations": 0, "reviews": 0}
        if not self.world.catalogue or not self.world.customer_ids:
            raise ValueError(
                "orders need active products and customers: seed some first or pass --products/--customers"
            )
        plan = OrderPlanner(self)
        counts = {"orders": 0, "lines": 0}
        for orders, lines in plan.chunks():
            counts["orders"] += self.writer.write(Order, ORDER_FIELDS, orders)
            counts["lines"] += self.writer.write(OrderLine, LINE_FIELDS, lines)
        counts["reservations"] = self.writer.write(Reservation, RESERVATION_FIELDS, plan.reservations)
        counts["reviews"] = self.writer.write(Review, REVIEW_FIELDS, plan.reviews)
        return counts

    def write_stock(self) -> dict[str, int]:
        first = next_id(Stock)
        stamp = self.as_of - dt.timedelta(days=1)
        existing = self.world.stock_ids
        new = sorted(item for item in self.world.stock.items() if item[0] not in existing)
        rows = (
            (first + n, pid, warehouse_id, quantity, stamp, stamp)
            for n, ((pid, warehouse_id), quantity) in enumerate(new)
        )
        fields = ["id", "product_id", "warehouse", "quantity", "created_at", "updated_at"]
        written = self.writer.write(Stock, fields, rows)
        # Stock rows that were already there only grow, where new reservations needed more than was on hand.
        raised = [(self.world.stock[key], sid) for key, sid in existing.items()]
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {connection.ops.quote_name(Stock._meta.db_table)} SET quantity = %s WHERE id = %s",  # noqa: S608
                raised,
            )
        return {"stock": written}

    def _load_missing_world(self) -> None:
        """Seeding orders alone (`--products 0 --customers 0`) draws on what the database already holds."""
        if not self.world.catalogue:
            products = Product.objects.filter(active=True).values_list("id", "price", "currency", "name")
            for pid, price, currency, name in products:
                ids, prices, names = self.world.catalogue.setdefault(currency, ([], [], []))
                ids.append(pid)
                prices.append(price)
                names.append(name)
            for sid, pid, warehouse_id, quantity in Stock.objects.values_list(
                "id", "product_id", "warehouse_id", "quantity"
            ):
                self.world.stock_places.setdefault(pid, []).append(warehouse_id)
                self.world.stock[(pid, warehouse_id)] = quantity
                self.world.stock_ids[(pid, warehouse_id)] = sid
            held = (
                Reservation.objects.filter(status=Reservation.Status.ACTIVE)
                .values_list("product_id", "warehouse_id")
                .annotate(total=Sum("quantity"))
                .order_by()
            )
            self.world.held = {(pid, warehouse_id): total for pid, warehouse_id, total in held}
        if not self.world.customer_ids:
            self.world.customer_ids = list(Customer.objects.order_by("id").values_list("id", flat=True))
            self.world.default_address = dict(Address.objects.filter(is_default=True).values_list("customer_id", "id"))


ORDER_FIELDS = ["id", "customer", "status", "currency", "total", "shipping_address", "created_at", "updated_at",
                "paid_at", "shipped_at", "cancelled_at"]  # fmt: skip
LINE_FIELDS = ["id", "order", "product_id", "name", "quantity", "unit_price"]
RESERVATION_FIELDS = ["id", "product_id", "warehouse", "quantity", "order", "status", "created_at", "updated_at"]
REVIEW_FIELDS = ["id", "product_id", "customer", "rating", "title", "body", "created_at", "updated_at"]
CENTS = ("99", "99", "95", "49", "00")


class OrderPlanner:
    """Orders spread over two years; older ones are mostly shipped, recent ones still pending or paid.
    Open orders hold reservations (stock is raised where they need more than is on hand, so the totals
    stay consistent); some shipped lines earn a review from their buyer."""

    def __init__(self, seeder: ShopSeeder) -> None:
        self.seeder = seeder
        self.world = seeder.world
        self.as_of = seeder.as_of
        self.rng = seeder.rng("orders")
        self.reservations: list[tuple[object, ...]] = []
        self.reviews: list[tuple[object, ...]] = []
        self._reviewed: set[tuple[int, int]] = set()
        self._next_reservation = next_id(Reservation)
        self._next_review = next_id(Review)
        self._held: dict[tuple[int, int], int] = dict(seeder.world.held)

    def chunks(self) -> Iterator[tuple[list[tuple[object, ...]], list[tuple[object, ...]]]]:
        rng, world = self.rng, self.world
        count = self.seeder.sizes.orders
        max_lines = max(1, 2 * self.seeder.sizes.lines_per_order - 1)
        currencies = sorted(world.catalogue)
        weights = [len(world.catalogue[c][0]) for c in currencies]
        span = dt.timedelta(days=730).total_seconds()
        first_order, next_line = next_id(Order), next_id(OrderLine)
        orders: list[tuple[object, ...]] = []
        lines: list[tuple[object, ...]] = []
        for n in range(count):
            oid = first_order + n
            customer_id = rng.choice(world.customer_ids)
            currency = rng.choices(currencies, weights)[0]
            ids, prices, names = world.catalogue[currency]
            created = self.as_of - dt.timedelta(seconds=span * (1 - (n + rng.random()) / count))
            status, paid_at, shipped_at, cancelled_at = self._lifecycle(created)
            total = Decimal("0.00")
            for index in rng.sample(range(len(ids)), min(rng.randint(1, max_lines), len(ids))):
                pid, price, name = ids[index], prices[index], names[index]
                quantity = rng.choices((1, 2, 3, 4), (70, 18, 8, 4))[0]
                total += price * quantity
                lines.append((next_line, oid, pid, name, quantity, price))
                next_line += 1
                if status in (Order.Status.PENDING, Order.Status.PAID):
                    self._reserve(oid, pid, quantity, created)
                elif status == Order.Status.SHIPPED and rng.random() < REVIEW_RATE:
                    self._review(customer_id, pid, shipped_at)
            updated = max(t for t in (created, paid_at, shipped_at, cancelled_at) if t is not None)
            orders.append((oid, customer_id, status, currency, total, world.default_address.get(customer_id),
                           created, updated, paid_at, shipped_at, cancelled_at))  # fmt: skip
            if len(orders) == ORDER_CHUNK:
                yield orders, lines
                orders, lines = [], []
        if orders:
            yield orders, lines

    def _lifecycle(
        self, created: dt.datetime
    ) -> tuple[str, dt.datetime | None, dt.datetime | None, dt.datetime | None]:
        rng = self.rng
        age_days = (self.as_of - created).total_seconds() / 86400
        if age_days > 30:
            choices = ((Order.Status.SHIPPED, 93), (Order.Status.CANCELLED, 7))
        elif age_days > 7:
            choices = ((Order.Status.SHIPPED, 80), (Order.Status.PAID, 5), (Order.Status.CANCELLED, 10),
                       (Order.Status.PENDING, 5))  # fmt: skip
        else:
            choices = ((Order.Status.PENDING, 35), (Order.Status.PAID, 35), (Order.Status.SHIPPED, 20),
                       (Order.Status.CANCELLED, 10))  # fmt: skip
        statuses, weights = zip(*choices, strict=True)
        status = rng.choices(statuses, weights)[0]
        paid_at = shipped_at = cancelled_at = None
        if status in (Order.Status.PAID, Order.Status.SHIPPED) or (
            status == Order.Status.CANCELLED and rng.random() < 0.5
        ):
            paid_at = self._cap(created + dt.timedelta(minutes=rng.uniform(1, 90)))
        if status == Order.Status.SHIPPED:
            shipped_at = self._cap(paid_at + dt.timedelta(hours=rng.uniform(12, 72)))  # type: ignore[operator]
        if status == Order.Status.CANCELLED:
            cancelled_at = self._cap((paid_at or created) + dt.timedelta(hours=rng.uniform(1, 48)))
        return status, paid_at, shipped_at, cancelled_at

    def _cap(self, moment: dt.datetime) -> dt.datetime:
        return min(moment, self.as_of)

    def _reserve(self, order_id: int, pid: int, quantity: int, created: dt.datetime) -> None:
        world = self.world
        places = world.stock_places.setdefault(pid, [self.world.warehouse_ids[0]])
        warehouse_id = next(
            (w for w in places if world.stock.get((pid, w), 0) - self._held.get((pid, w), 0) >= quantity),
            places[0],
        )
        key = (pid, warehouse_id)
        self._held[key] = self._held.get(key, 0) + quantity
        world.stock[key] = max(world.stock.get(key, 0), self._held[key])
        self.reservations.append((self._next_reservation, pid, warehouse_id, quantity, order_id,
                                  Reservation.Status.ACTIVE, created, created))  # fmt: skip
        self._next_reservation += 1

    def _review(self, customer_id: int, pid: int, shipped_at: dt.datetime | None) -> None:
        if (customer_id, pid) in self._reviewed or shipped_at is None:
            return
        self._reviewed.add((customer_id, pid))
        rng = self.rng
        ratings, weights = zip(*words.RATING_WEIGHTS, strict=True)
        rating = rng.choices(ratings, weights)[0]
        written = self._cap(shipped_at + dt.timedelta(days=rng.uniform(1, 30)))
        self.reviews.append((self._next_review, pid, customer_id, rating, rng.choice(words.REVIEW_TITLES[rating]),
                             rng.choice(words.REVIEW_BODIES[rating]), written, written))  # fmt: skip
        self._next_review += 1


def flush() -> dict[str, int]:
    """Delete the shop's rows and every user who is neither staff nor superuser."""
    deleted: dict[str, int] = {}
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in reversed(SHOP_MODELS):
            cursor.execute(f"DELETE FROM {quote(model._meta.db_table)}")  # noqa: S608 - quoted table name
            deleted[model._meta.label] = cursor.rowcount
    users = get_user_model().objects.filter(is_staff=False, is_superuser=False)
    deleted["users"] = users.count()
    users.delete()
    return deleted


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", ascii_word(text.replace("'", ""), keep_spaces=True).lower()).strip("-")


def ascii_word(text: str, keep_spaces: bool = False) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return plain if keep_spaces else re.sub(r"[^A-Za-z0-9]", "", plain).lower()
