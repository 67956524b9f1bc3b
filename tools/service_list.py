"""The extracted services as `extracted/services.toml` lists them: read once, checked, and handed to
`tools/stack.py` (`make up`), `tools/run_tests.py` (`make test`) and `tools/compose.py` (compose.yaml).

A mistake in the list is a `ServiceListError` naming the entry and the field, so a new entry fails loudly at the
first command that reads it rather than half-way through a stack.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIST = ROOT / "extracted" / "services.toml"
KINDS = ("django", "asgi")
ENGINES = ("sqlite", "postgresql")
NAME = re.compile(r"[a-z][a-z0-9]*")
REQUIRED = ("name", "folder", "kind", "routes", "spec", "databases", "port", "health", "sync", "seam")


class ServiceListError(Exception):
    """extracted/services.toml says something that cannot be run; the message names the entry and field."""


@dataclass(frozen=True)
class Service:
    name: str
    folder: str
    kind: str
    routes: tuple[str, ...]
    spec: str
    databases: tuple[str, ...]
    port: int
    health: str
    sync: bool
    seam: bool
    module: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return ROOT / self.folder

    @property
    def spec_path(self) -> Path:
        return ROOT / self.spec

    @property
    def variable(self) -> str:
        """The prefix of its variables: CATALOG for CATALOG_DATABASE_URL, CATALOG_PORT, CATALOG_SERVICE_URL."""
        return self.name.upper()

    @property
    def runs_on_sqlite(self) -> bool:
        return "sqlite" in self.databases


def load(path: Path = LIST) -> list[Service]:
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("services", [])
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ServiceListError(f"{path}: {exc}") from exc
    services = [_service(entry, index, path) for index, entry in enumerate(entries)]
    for attribute in ("name", "port", "folder"):
        values = [getattr(service, attribute) for service in services]
        duplicated = sorted({str(value) for value in values if values.count(value) > 1})
        if duplicated:
            raise ServiceListError(f"{path}: two services have the same {attribute}: {', '.join(duplicated)}")
    return services


def _service(entry: dict[str, Any], index: int, path: Path) -> Service:
    where = f"{path}: service #{index + 1} ({entry.get('name', 'no name')})"
    missing = [name for name in REQUIRED if name not in entry]
    if missing:
        raise ServiceListError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(set(entry) - {*REQUIRED, "module", "env"})
    if unknown:
        raise ServiceListError(f"{where}: unknown field {', '.join(unknown)}")
    if not isinstance(entry["name"], str) or not NAME.fullmatch(entry["name"]):
        raise ServiceListError(f"{where}: name must be lower-case letters and digits")
    if entry["kind"] not in KINDS:
        raise ServiceListError(f"{where}: kind must be one of {', '.join(KINDS)}")
    if entry["kind"] == "asgi" and not entry.get("module"):
        raise ServiceListError(f"{where}: an asgi service names the module run with `python -m` (module = ...)")
    if not entry["databases"] or not set(entry["databases"]) <= set(ENGINES):
        raise ServiceListError(f"{where}: databases must be some of {', '.join(ENGINES)}")
    if entry["kind"] == "asgi" and "sqlite" in entry["databases"]:
        raise ServiceListError(f"{where}: an asgi service runs on PostgreSQL only")
    for name in ("folder", "spec"):
        if not (ROOT / entry[name]).exists():
            raise ServiceListError(f"{where}: {name} {entry[name]} does not exist")
    if not entry["spec"].startswith("migration-playbook/specs/"):
        raise ServiceListError(f"{where}: spec must be in migration-playbook/specs/ (the engine's image holds that)")
    if not isinstance(entry["port"], int) or not 1024 <= entry["port"] <= 65535:
        raise ServiceListError(f"{where}: port must be a number from 1024 to 65535")
    if not entry["routes"] or not all(isinstance(r, str) and r.startswith("/") for r in entry["routes"]):
        raise ServiceListError(f"{where}: routes must be paths starting with /")
    return Service(
        name=entry["name"],
        folder=entry["folder"],
        kind=entry["kind"],
        routes=tuple(entry["routes"]),
        spec=entry["spec"],
        databases=tuple(entry["databases"]),
        port=entry["port"],
        health=entry["health"],
        sync=bool(entry["sync"]),
        seam=bool(entry["seam"]),
        module=entry.get("module"),
        env={str(k): str(v) for k, v in entry.get("env", {}).items()},
    )
