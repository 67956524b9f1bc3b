"""A stack of its own for the seam's tests (docs/seam.md), per database engine: the monolith, the catalog service
and the proxy as real processes, the catalog route declaring its data (`data = "catalog"`), the shop seeded and
its catalog moved by the engine. Its own, because these tests hand the catalog over, stop the catalog service and
retire the monolith's catalog tables, which no other file may see.

No `strangler data follow` runs: nothing syncs the service's writes back to the monolith between handovers, so
anything in the monolith that still depended on its copy of the catalog would fail every time, not now and then."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from data_move import SPEC, backfill
from databases import database, sql
from parity import PUBLIC_HOST
from processes import ROOT, Server, django, free_port, run_together
from proxy_stack import ADMIN_TOKEN, Proxy, proxy_in_front
from seed import Shop, seed

CATALOG = ROOT / "extracted" / "catalog"
EnvFor = Callable[[str, Path], dict[str, str]]


@dataclass
class SeamStack:
    engine: str
    monolith_database: str
    catalog_database: str
    shop: Shop
    folder: Path
    monolith: Server
    proxy: Proxy
    catalog_port: int
    catalog_env: dict[str, str]
    _catalog: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    # --- the catalog service, stopped and started again on its port -------------------------------------------

    def start_catalog(self) -> None:
        server = self._catalog.enter_context(
            django("catalog", CATALOG, self.catalog_env, self.folder, port=self.catalog_port)
        )
        server.wait_until_ready()

    def stop_catalog(self) -> None:
        self._catalog.close()
        self._catalog = contextlib.ExitStack()

    @contextlib.contextmanager
    def catalog_down(self) -> Iterator[None]:
        self.stop_catalog()
        try:
            yield
        finally:
            self.start_catalog()

    # --- the engine, as an operator runs it -----------------------------------------------------------------

    def data(self, command: str, *extra: str) -> subprocess.CompletedProcess[str]:
        args = [sys.executable, "-m", "strangler_playbook", command, str(SPEC), "--json", *extra]
        args += ["--source", self.monolith_database, "--target", self.catalog_database]
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRANGLER_")}
        env.update(STRANGLER_ADMIN_URL=self.proxy.admin_url, STRANGLER_ADMIN_TOKEN=ADMIN_TOKEN)
        return subprocess.run(
            args, cwd=ROOT / "migration-playbook", env=env, capture_output=True, text=True, timeout=120, check=False
        )

    def own(self, owner: str) -> None:
        """Hand the catalog to `owner` (cutover or rollback), unless it already owns it."""
        done = self.data("cutover" if owner == "service" else "rollback")
        assert done.returncode == 0, done.stdout + done.stderr

    # --- clients and the monolith's database ----------------------------------------------------------------

    def client(self, persona: str | None = None) -> httpx.Client:
        """A client of the shop through the proxy, as `persona` (anonymous when None)."""
        headers = {"Host": PUBLIC_HOST}
        if persona:
            headers["Authorization"] = f"Token {self.shop.personas[persona].token}"
        return httpx.Client(base_url=self.proxy.server.url, headers=headers, timeout=30)

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run `statement` on the monolith's database (`%s` placeholders)."""
        return sql(self.monolith_database, statement, params)

    def count(self, table: str) -> int:
        return int(self.sql(f"SELECT count(*) FROM {table}")[0][0])  # noqa: S608 - the tests' own table names


@contextlib.contextmanager
def seam_stack(engine: str, folder: Path, env_for: EnvFor) -> Iterator[SeamStack]:
    with contextlib.ExitStack() as running:
        tag = folder.name.replace("-", "_")  # one pair of databases per module and engine
        monolith_db = running.enter_context(database(engine, f"{tag}_monolith", folder))
        catalog_db = running.enter_context(database(engine, f"{tag}_catalog", folder))
        catalog_port = free_port()
        monolith_env = {
            **env_for(monolith_db, folder / "monolith-static"),
            "CATALOG_SERVICE_URL": f"http://127.0.0.1:{catalog_port}",
        }
        catalog_env = env_for(catalog_db, folder / "catalog-static")
        migrate = [sys.executable, "manage.py", "migrate", "--noinput"]
        run_together([(migrate, ROOT / "monolith", monolith_env), (migrate, CATALOG, catalog_env)])
        shop = seed(monolith_env)
        backfill(monolith_db, catalog_db)
        monolith = running.enter_context(django("monolith", ROOT / "monolith", monolith_env, folder))
        monolith.wait_until_ready()
        proxy = running.enter_context(proxy_in_front(monolith.url, f"http://127.0.0.1:{catalog_port}", folder))
        stack = SeamStack(engine, monolith_db, catalog_db, shop, folder, monolith, proxy, catalog_port, catalog_env)
        running.callback(stack.stop_catalog)
        stack.start_catalog()
        _declare_the_catalog_data(proxy)
        yield stack


def _declare_the_catalog_data(proxy: Proxy) -> None:
    """The route stands on the catalog spec's data (the gate for canary and live), at `shadow` to begin with."""
    with httpx.Client(
        base_url=proxy.admin_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10
    ) as admin:
        version = admin.get("/routes").json()["version"]
        body = {"path": "/api/catalog", "stage": "shadow", "data": "catalog", "expected_version": version}
        declared = admin.post("/routes", json={**body, "reason": "e2e: the seam's stack"})
        assert declared.status_code == 200, declared.text
