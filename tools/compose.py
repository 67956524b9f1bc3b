#!/usr/bin/env python3
"""compose.yaml, rendered from the services list (extracted/services.toml): the monolith and each service on a
PostgreSQL of its own, each service's sync worker, and the proxy in front with its route store on another.

    .venv/bin/python tools/compose.py            # write compose.yaml
    .venv/bin/python tools/compose.py --check    # exit 1 if compose.yaml is not what the list renders

compose.yaml is committed (so `docker compose up` needs no tool) and tests/test_compose.py fails when it differs
from the rendering: edit the list or this script, never compose.yaml by hand.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import service_list
from service_list import Service

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "compose.yaml"
PASSWORD = "${POSTGRES_PASSWORD:-strangler}"  # noqa: S105 - compose reads it from the environment
HEALTHZ = (
    '["CMD", "python", "-c", "import urllib.request; '
    "urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout=2)\"]"
)


def required(variable: str) -> str:
    return f"${{{variable}:?set {variable}}}"


def database_url(name: str) -> str:
    return f"postgresql://strangler:{PASSWORD}@{name}-db:5432/{name}"


def secret_variables(services: Sequence[Service]) -> list[str]:
    """The variables `docker compose up` refuses to start without."""
    django = [f"{s.variable}_SECRET_KEY" for s in services if s.kind == "django"]
    return ["MONOLITH_SECRET_KEY", *django, "STRANGLER_ADMIN_TOKEN", "STRANGLER_IDENTITY_KEY"]


def render(services: Sequence[Service]) -> str:
    secrets = " ".join(f"{name}=..." for name in secret_variables(services))
    out = [
        "# The Strangler stack as a container deployment: the monolith and each extracted service on their own",
        "# PostgreSQL, the proxy in front with its route store on another. `make up` runs the same stack on SQLite",
        "# without containers. RENDERED by tools/compose.py from extracted/services.toml: edit those, then run",
        "# `.venv/bin/python tools/compose.py`. tests/test_compose.py keeps this file honest (the rendering,",
        "# docker-compose config, wiring checks, and each health check run against the service's production settings",
        "# with this file's environment).",
        "#",
        f"#   {secrets} \\",
        "#     docker compose up --build",
        "#",
        "# Public traffic: http://localhost:8080 (proxy). Admin API: 127.0.0.1:8081 only (bearer token).",
        "",
        "x-postgres: &postgres",
        "  image: postgres:17",
        "  environment: &pgenv",
        "    POSTGRES_USER: strangler",
        f"    POSTGRES_PASSWORD: {PASSWORD}",
        "  healthcheck: &pghealth",
        '    test: ["CMD-SHELL", "pg_isready -U strangler -d $${POSTGRES_DB}"]',
        "    interval: 5s",
        "    timeout: 3s",
        "    retries: 10",
        "  restart: unless-stopped",
        "",
        "services:",
    ]
    for name in ["monolith", *(s.name for s in services), "control"]:
        database = "strangler" if name == "control" else name
        out += [
            f"  {name}-db:",
            "    <<: *postgres",
            "    environment:",
            "      <<: *pgenv",
            f"      POSTGRES_DB: {database}",
            f"    volumes: [{name}-db:/var/lib/postgresql/data]",
            "",
        ]
    out += _monolith(services)
    for service in services:
        out += _service(service)
        if service.sync:
            out += _sync(service)
    out += _proxy(services)
    out += ["volumes:", *(f"  {name}-db:" for name in ["monolith", *(s.name for s in services), "control"])]
    return "\n".join(out) + "\n"


def _healthcheck(path: str, *, port: int = 8000) -> list[str]:
    return [
        "    healthcheck:",
        f"      test: {HEALTHZ.format(port=port, path=path)}",
        "      interval: 5s",
        "      timeout: 3s",
        "      retries: 20",
        "    restart: unless-stopped",
    ]


def _monolith(services: Sequence[Service]) -> list[str]:
    return [
        "  monolith:",
        "    build: ./monolith",
        "    environment:",
        "      DJANGO_SETTINGS_MODULE: config.settings.production",
        f"      DATABASE_URL: {database_url('monolith')}",
        f"      SECRET_KEY: {required('MONOLITH_SECRET_KEY')}",
        "      # 127.0.0.1: the health check below asks from inside the container (a Host Django must accept).",
        "      ALLOWED_HOSTS: monolith,localhost,127.0.0.1",
        '      SESSION_COOKIE_SECURE: "false"',
        '      CSRF_COOKIE_SECURE: "false"',
        "      # The seams: once a service owns its data, the monolith asks it directly.",
        *(f"      {s.variable}_SERVICE_URL: http://{s.name}:8000" for s in services if s.seam),
        f"      STRANGLER_IDENTITY_KEY: {required('STRANGLER_IDENTITY_KEY')}",
        "    depends_on:",
        "      monolith-db: {condition: service_healthy}",
        *_healthcheck("/healthz"),
        "",
    ]


def _service(service: Service) -> list[str]:
    out = [
        f"  {service.name}:",
        f"    build: {{context: ./extracted, dockerfile: {Path(service.folder).name}/Dockerfile}}",
        "    environment:",
    ]
    if service.kind == "django":
        out.append("      DJANGO_SETTINGS_MODULE: config.settings.production")
    out.append(f"      DATABASE_URL: {database_url(service.name)}")
    if service.kind == "django":
        out.append(f"      SECRET_KEY: {required(f'{service.variable}_SECRET_KEY')}")
    out += [
        f"      ALLOWED_HOSTS: {service.name},localhost,127.0.0.1",
        f"      STRANGLER_IDENTITY_KEY: {required('STRANGLER_IDENTITY_KEY')}",
        *(f"      {k}: {v.replace('{proxy}', 'http://proxy:8080')}" for k, v in sorted(service.env.items())),
        "    depends_on:",
        f"      {service.name}-db: {{condition: service_healthy}}",
        *_healthcheck(service.health),
        "",
    ]
    return out


def _sync(service: Service) -> list[str]:
    spec = Path(service.spec).relative_to("migration-playbook").as_posix()
    return [
        f"  # The migration engine keeps the {service.name}'s database in sync with the monolith's (and back after",
        "  # cutover). Backfill first:",
        f"  #   docker compose run {service.name}-sync python -m strangler_playbook backfill {spec}",
        f"  {service.name}-sync:",
        "    # The repository as context: the engine installs the proxy's package too (admin client, exit codes).",
        "    build: {context: ., dockerfile: migration-playbook/Dockerfile}",
        f'    command: ["python", "-m", "strangler_playbook", "follow", "{spec}"]',
        "    environment:",
        f"      MONOLITH_DATABASE_URL: {database_url('monolith')}",
        f"      {service.variable}_DATABASE_URL: {database_url(service.name)}",
        "      STRANGLER_ADMIN_URL: http://proxy:8081",
        f"      STRANGLER_ADMIN_TOKEN: {required('STRANGLER_ADMIN_TOKEN')}",
        "    depends_on:",
        "      monolith: {condition: service_healthy}",
        f"      {service.name}: {{condition: service_healthy}}",
        "    healthcheck:",
        f'      test: ["CMD", "python", "-m", "strangler_playbook", "status", "{spec}", "--json"]',
        "      interval: 30s",
        "      timeout: 10s",
        "      retries: 3",
        "    restart: unless-stopped",
        "",
    ]


def _proxy(services: Sequence[Service]) -> list[str]:
    return [
        "  proxy:",
        "    build: ./proxy",
        "    environment:",
        "      STRANGLER_LISTEN: 0.0.0.0:8080",
        "      STRANGLER_ADMIN_LISTEN: 0.0.0.0:8081",
        f"      STRANGLER_ADMIN_TOKEN: {required('STRANGLER_ADMIN_TOKEN')}",
        f"      STRANGLER_ROUTE_STORE: postgresql://strangler:{PASSWORD}@control-db:5432/strangler",
        "      STRANGLER_MONOLITH_URL: http://monolith:8000",
        f"      STRANGLER_IDENTITY_KEY: {required('STRANGLER_IDENTITY_KEY')}",
        "    ports:",
        '      - "8080:8080"',
        '      - "127.0.0.1:8081:8081"',
        "    depends_on:",
        "      control-db: {condition: service_healthy}",
        "      monolith: {condition: service_healthy}",
        *(f"      {s.name}: {{condition: service_healthy}}" for s in services),
        *_healthcheck("/healthz", port=8081),
        "",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/compose.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if compose.yaml differs from the rendering")
    args = parser.parse_args(argv)
    rendered = render(service_list.load())
    if args.check:
        if COMPOSE.read_text() != rendered:
            print(
                "compose.yaml differs from what extracted/services.toml renders: run tools/compose.py", file=sys.stderr
            )
            return 1
        return 0
    COMPOSE.write_text(rendered)
    print(f"wrote {COMPOSE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
