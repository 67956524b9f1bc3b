"""The Strangler proxy in front of the stack, run as an operator runs it (`strangler proxy`), with its route
changed through the `strangler routes` CLI."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from parity import IDENTITY_KEY
from processes import Server, free_port, run, serving

ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef0123"  # noqa: S105  (a throwaway test stack)
STRANGLER = str(Path(sys.executable).parent / "strangler")


@dataclass(frozen=True)
class Proxy:
    server: Server
    admin_url: str
    folder: Path

    def route(self, stage: str) -> None:
        """Move /api/catalog to `stage` (the catalog upstream is in the routes file)."""
        run(
            [STRANGLER, "routes", "set", "/api/catalog", "--service", "catalog", "--stage", stage, "--reason", "e2e"],
            cwd=self.folder,
            env={"STRANGLER_ADMIN_URL": self.admin_url, "STRANGLER_ADMIN_TOKEN": ADMIN_TOKEN},
        )


@contextlib.contextmanager
def proxy_in_front(monolith_url: str, catalog_url: str, folder: Path) -> Iterator[Proxy]:
    routes = folder / "routes.toml"
    routes.write_text(
        f'[upstreams.monolith]\nurl = "{monolith_url}"\n\n[upstreams.catalog]\nurl = "{catalog_url}"\n\n'
        '[[routes]]\npath = "/api/catalog"\nservice = "catalog"\nstage = "off"\n'
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
        yield Proxy(replace(admin, url=f"http://127.0.0.1:{port}"), admin_url, folder)
