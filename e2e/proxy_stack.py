"""The Strangler proxy in front of the stack, run as an operator runs it (`strangler proxy`), with its route
changed through the `strangler routes` CLI."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from parity import IDENTITY_KEY
from processes import Server, free_port, run, serving

ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef0123"  # noqa: S105  (a throwaway test stack)
STRANGLER = str(Path(sys.executable).parent / "strangler")


@dataclass(frozen=True)
class Proxy:
    server: Server
    admin_url: str
    folder: Path

    service: str = "catalog"
    path: str = "/api/catalog"

    def route(self, stage: str) -> None:
        """Move the service's route to `stage` (its upstream is in the routes file)."""
        run(
            [STRANGLER, "routes", "set", self.path, "--service", self.service, "--stage", stage, "--reason", "e2e"],
            cwd=self.folder,
            env={"STRANGLER_ADMIN_URL": self.admin_url, "STRANGLER_ADMIN_TOKEN": ADMIN_TOKEN},
        )

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.admin_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)

    def set_stage(self, stage: str, **extra: Any) -> httpx.Response:
        """Ask the admin API to move the route to `stage` (the data gate may refuse: the answer says)."""
        with self.admin() as admin:
            version = admin.get("/routes").json()["version"]
            body = {"path": self.path, "stage": stage, "expected_version": version, "reason": "e2e", **extra}
            return admin.post("/routes", json=body)

    def stage(self) -> str:
        with self.admin() as admin:
            table = admin.get("/routes").json()["table"]
        return next(r["stage"] for r in table["routes"] if r["path"] == self.path)


@contextlib.contextmanager
def proxy_in_front(
    monolith_url: str, service_url: str, folder: Path, *, service: str = "catalog", path: str = "/api/catalog"
) -> Iterator[Proxy]:
    """The proxy with the monolith as its default upstream and one service, whose route `path` is `off`."""
    routes = folder / "routes.toml"
    routes.write_text(
        f'[upstreams.monolith]\nurl = "{monolith_url}"\n\n[upstreams.{service}]\nurl = "{service_url}"\n\n'
        f'[[routes]]\npath = "{path}"\nservice = "{service}"\nstage = "off"\n'
    )
    port, admin_port = free_port(), free_port()
    admin_url = f"http://127.0.0.1:{admin_port}"
    env = {
        "STRANGLER_LISTEN": f"127.0.0.1:{port}",
        "STRANGLER_ADMIN_LISTEN": f"127.0.0.1:{admin_port}",
        "STRANGLER_ADMIN_TOKEN": ADMIN_TOKEN,
        "STRANGLER_ROUTE_STORE": str(folder / "routes.sqlite3"),
        "STRANGLER_MONOLITH_URL": monolith_url,
        "STRANGLER_IDENTITY_KEY": IDENTITY_KEY,
        "STRANGLER_LOG_LEVEL": "warning",
    }
    args = [STRANGLER, "proxy"]
    with serving("proxy", args, cwd=folder, env=env, url=admin_url, logs=folder, ready_path="/healthz") as admin:
        admin.wait_until_ready()
        run(
            [STRANGLER, "routes", "apply", str(routes), "--reason", "e2e stack"],
            cwd=folder,
            env={"STRANGLER_ADMIN_URL": admin_url, "STRANGLER_ADMIN_TOKEN": ADMIN_TOKEN},
        )
        yield Proxy(replace(admin, url=f"http://127.0.0.1:{port}"), admin_url, folder, service, path)
