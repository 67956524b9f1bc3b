"""A stack of its own for the order saga (docs/seam.md, "the order saga"), on PostgreSQL: the monolith and the
inventory service as real processes, each on its own database, the engine's owner record saying the service owns
inventory, and a relay between them (`relay.py`) that can lose the service's answers. Its own, because its tests
kill and restart the monolith.

The monolith is started as `make up` starts it: `manage.py recover_stock_holds --grace 0`, then the server."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from databases import database, sql
from inventory_stack import SERVICE, inventory_service, service_env
from parity import PUBLIC_HOST
from processes import Server, django, free_port, run, run_together
from relay import Relay, relay_to
from seed import MONOLITH, Shop, seed

OWNER_SQL = (
    "INSERT INTO _strangler_data_owner (spec, owner, recorded_at) VALUES ('inventory', 'service', now()::text)"
    " ON CONFLICT (spec) DO UPDATE SET owner = excluded.owner"
)


@dataclass
class SagaStack:
    monolith_database: str
    service_database: str
    shop: Shop
    folder: Path
    relay: Relay
    service: Server
    monolith_env: dict[str, str]
    monolith_port: int
    monolith: Server | None = None
    _running: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def recover(self, *extra: str) -> str:
        """`manage.py recover_stock_holds --grace 0 …`, as `make up` runs it before the monolith starts."""
        args = [sys.executable, "manage.py", "recover_stock_holds", "--grace", "0", *extra]
        return run(args, cwd=MONOLITH, env=self.monolith_env)

    def start_monolith(self) -> Server:
        """Recovery first, then the server, as `make up` does; on the same port each time."""
        self.recover()
        server = self._running.enter_context(
            django("saga-monolith", MONOLITH, self.monolith_env, self.folder, port=self.monolith_port)
        )
        self.monolith = server.wait_until_ready()
        return server

    def kill_monolith(self) -> None:
        """kill -9 of the monolith's whole process group: no cleanup, no finally, no atexit."""
        assert self.monolith is not None
        os.killpg(self.monolith.process.pid, signal.SIGKILL)
        self.monolith.process.wait(10)
        self._running.close()
        self._running = contextlib.ExitStack()
        self.monolith = None

    def client(self, persona: str) -> httpx.Client:
        assert self.monolith is not None
        headers = {"Host": PUBLIC_HOST, "Authorization": f"Token {self.shop.personas[persona].token}"}
        return httpx.Client(base_url=self.monolith.url, headers=headers, timeout=60)

    def monolith_sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return sql(self.monolith_database, statement, params)

    def service_sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return sql(self.service_database, statement, params)

    def stock(self, sku: str, *quantities: int) -> int:
        """Put `quantities` of `sku` on hand in that many new warehouses of the service; the product's id."""
        product = self.shop.products[sku]
        for quantity in quantities:
            (warehouse,) = self.service_sql(
                "INSERT INTO inventory_warehouse (code, name, city, country, active, created_at, updated_at)"
                " VALUES ('W' || substr(md5(random()::text), 1, 12), 'Depot', 'Berlin', 'DE', true, now(), now())"
                " RETURNING id"
            )[0]
            self.service_sql(
                "INSERT INTO inventory_stock (product_id, warehouse_id, quantity, created_at, updated_at)"
                " VALUES (%s, %s, %s, now(), now())",
                (product, warehouse, quantity),
            )
        return product

    def held(self, product: int) -> list[tuple[Any, ...]]:
        """The service's active reservations of `product`: (quantity, order id)."""
        return self.service_sql(
            "SELECT quantity, order_id FROM inventory_reservation WHERE product_id = %s AND status = 'active'"
            " ORDER BY id",
            (product,),
        )


@contextlib.contextmanager
def saga_stack(folder: Path, django_env: dict[str, str]) -> Iterator[SagaStack]:
    with contextlib.ExitStack() as stack:
        monolith_db = stack.enter_context(database("postgresql", "saga_monolith", folder))
        service_db = stack.enter_context(database("postgresql", "saga_inventory", folder))
        service_port = free_port()
        relay = stack.enter_context(relay_to(service_port))
        monolith_port = free_port()
        monolith_env = {
            **django_env,
            "DATABASE_URL": monolith_db,
            "INVENTORY_SERVICE_URL": relay.url,
            "INVENTORY_SERVICE_TIMEOUT": "1",
            # Requests in parallel, as `make up` serves them (4 there): buyers who race must race in the monolith too.
            "GRANIAN_BLOCKING_THREADS": "8",
        }
        run_together(
            [
                ([sys.executable, "manage.py", "migrate", "--noinput"], MONOLITH, monolith_env),
                ([sys.executable, "-m", "inventory_service", "migrate"], SERVICE, {"DATABASE_URL": service_db}),
            ]
        )
        shop = seed(monolith_env)
        sql(monolith_db, OWNER_SQL, ())
        env = service_env(service_db, f"http://127.0.0.1:{monolith_port}")
        service = stack.enter_context(inventory_service(env, folder, port=service_port, name="saga-inventory"))
        service.wait_until_ready()
        saga = SagaStack(monolith_db, service_db, shop, folder, relay, service, monolith_env, monolith_port)
        stack.callback(lambda: saga._running.close())
        saga.start_monolith()
        yield saga
