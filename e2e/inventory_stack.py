"""The inventory stack for the parity suite, on PostgreSQL only (the service speaks nothing else): the monolith
and the inventory service as real processes, each on its own database. The monolith's shop (personas, catalog,
warehouses, stock, an order's reservations) is made by the monolith's own services; the service's rows are the
monolith's, copied by the migration engine's CLI (`strangler data backfill`, then `verify`) with the spec
`migration-playbook/specs/inventory.toml`. The service asks the monolith's catalog API about products."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from data_move import align_sequences
from databases import database
from parity import IDENTITY_KEY, PUBLIC_HOST
from processes import ROOT, VENV_BIN, Server, django, free_port, run, run_together, serving
from seed import MONOLITH, Shop, seed

SERVICE = ROOT / "extracted" / "inventory"
SPEC = ROOT / "migration-playbook" / "specs" / "inventory.toml"
TABLES = ("inventory_warehouse", "inventory_stock", "inventory_reservation")

# (code, name, city, country, active)
WAREHOUSES = [
    ("BER-1", "Berlin central", "Berlin", "DE", True),
    ("HAM-1", "Hamburg north", "Hamburg", "DE", True),
    ("LYS-1", "Lyon", "Lyon", "FR", True),
    ("MAD-1", "Madrid sur", "Madrid", "ES", False),
    ("BER-2", "Berlin south", "Berlin", "DE", True),
]
# (sku, warehouse code, quantity)
STOCK = [
    ("TENT-0001", "BER-1", 10),
    ("TENT-0001", "HAM-1", 4),
    ("TENT-0001", "MAD-1", 50),
    ("STOVE-001", "BER-1", 3),
    ("SHOE-0001", "LYS-1", 7),
    ("SHOE-0002", "LYS-1", 0),
    ("MAT-0001", "BER-2", 5),
    *[(f"SOCK-{n:04d}", "BER-2", n * 3) for n in range(1, 11)],
]

INVENTORY_SCRIPT = """
import json
from django.contrib.auth import get_user_model
from catalog.models import Product
from customers import services as customers
from inventory import services as inventory
from inventory.models import Warehouse
from orders import services as orders
warehouses = {{}}
for code, name, city, country, active in {warehouses!r}:
    warehouses[code] = inventory.warehouse_create(code=code, name=name, city=city, country=country, active=active).id
products = dict(Product.objects.values_list("sku", "id"))
stock = {{}}
for sku, code, quantity in {stock!r}:
    stock[sku + "@" + code] = inventory.stock_create(
        product_id=products[sku], warehouse=Warehouse.objects.get(code=code), quantity=quantity
    ).id
berlin = Warehouse.objects.get(code="BER-1")
by_hand = inventory.reservation_create(product_id=products["TENT-0001"], warehouse=berlin, quantity=2)
released = inventory.reservation_create(product_id=products["STOVE-001"], warehouse=berlin, quantity=1)
inventory.reservation_release(reservation=released)
alice = customers.customer_id_for_user(user=get_user_model().objects.get(username="alice"))
order = orders.order_create(
    customer_id=alice,
    lines=[orders.LineRequest(products["SOCK-0004"], 5), orders.LineRequest(products["SHOE-0001"], 2)],
)
print(json.dumps({{"warehouses": warehouses, "stock": stock, "order": order.id}}))
"""


@dataclass(frozen=True)
class InventoryStack:
    monolith: Server
    service: Server
    shop: Shop
    warehouses: dict[str, int]  # code -> id
    stock: dict[str, int]  # "SKU@CODE" -> id
    order: int
    monolith_database: str
    service_database: str
    logs: Path


def service_env(database_url: str, catalog_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "STRANGLER_IDENTITY_KEY": IDENTITY_KEY,
        "CATALOG_URL": catalog_url,
        "ALLOWED_HOSTS": f"{PUBLIC_HOST},127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
    }


def inventory_service(
    env: dict[str, str], logs: Path, *, port: int | None = None, name: str = "inventory"
) -> contextlib.AbstractContextManager[Server]:
    """The service by its own start command, as deployed, on `port` (one chosen in advance) or a free one."""
    port = port or free_port()
    args = [sys.executable, "-m", "inventory_service", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return serving(name, args, cwd=SERVICE, env=env, url=f"http://127.0.0.1:{port}", logs=logs, ready_path="/healthz")


def copy_inventory(source_url: str, target_url: str) -> None:
    """backfill then verify with the engine's CLI, as an operator would; then the id sequences, as cutover does."""
    for command in ("backfill", "verify"):
        args = [str(VENV_BIN / "strangler"), "data", command, str(SPEC), "--source", source_url]
        printed = run([*args, "--target", target_url, "--json"], cwd=ROOT, env={})
        if command == "verify":
            verified = json.loads(printed)
            assert all(table["clean"] for table in verified["tables"]), verified
    align_sequences(source_url, target_url, TABLES)


@contextlib.contextmanager
def inventory_stack(
    folder: Path, django_env: dict[str, str], *, name: str = "inventory", seam: bool = False
) -> Iterator[InventoryStack]:
    """`name` names its databases and processes. With `seam`, the monolith is wired to the service as `make up` wires
    it (INVENTORY_SERVICE_URL; requests served in parallel, so buyers who race race in it too): once the engine
    records the service as the owner, its orders reserve stock there (docs/seam.md §8)."""
    with contextlib.ExitStack() as stack:
        monolith_db = stack.enter_context(database("postgresql", f"{name}_monolith", folder))
        service_db = stack.enter_context(database("postgresql", name, folder))
        monolith_env = {**django_env, "DATABASE_URL": monolith_db}
        service_port = free_port()
        if seam:
            monolith_env.update(INVENTORY_SERVICE_URL=f"http://127.0.0.1:{service_port}", GRANIAN_BLOCKING_THREADS="8")
        run_together(
            [
                ([sys.executable, "manage.py", "migrate", "--noinput"], MONOLITH, monolith_env),
                ([sys.executable, "-m", "inventory_service", "migrate"], SERVICE, {"DATABASE_URL": service_db}),
            ]
        )
        shop = seed(monolith_env)
        script = INVENTORY_SCRIPT.format(warehouses=WAREHOUSES, stock=STOCK)
        printed = run(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", script], cwd=MONOLITH, env=monolith_env
        )
        made = json.loads(printed.strip().splitlines()[-1])
        copy_inventory(monolith_db, service_db)
        monolith = stack.enter_context(django(f"{name}-monolith", MONOLITH, monolith_env, folder))
        env = service_env(service_db, monolith.url)
        service = stack.enter_context(inventory_service(env, folder, port=service_port, name=name))
        monolith.wait_until_ready()
        service.wait_until_ready()
        yield InventoryStack(
            monolith, service, shop, made["warehouses"], made["stock"], made["order"], monolith_db, service_db, folder
        )
