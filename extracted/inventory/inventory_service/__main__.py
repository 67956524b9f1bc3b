"""`python -m inventory_service` (or `strangler-inventory`): migrate, serve, check, prune-idempotency-keys.

    DATABASE_URL=postgresql://… python -m inventory_service migrate
    python -m inventory_service serve --port 8002         # granian, ASGI, after checking the configuration

Every option is also an environment variable (INVENTORY_HOST, INVENTORY_PORT, INVENTORY_WORKERS). Exit codes:
0 done, 1 bad usage, 2 configuration missing or invalid (the message names the variable), 3 migration failed,
4 migrations pending (`check`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from inventory_service.errors import ConfigurationError, MigrationError
from inventory_service.migrate import migrate, pending
from inventory_service.settings import Settings, database_url

EXIT_CONFIGURATION = 2
EXIT_MIGRATION = 3
EXIT_PENDING = 4


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inventory_service", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the SQL migrations not applied yet (needs DATABASE_URL)")
    commands.add_parser("check", help="validate the configuration and fail if migrations are pending")
    commands.add_parser("prune-idempotency-keys", help="delete Idempotency-Keys older than 24 hours (run daily)")
    serve = commands.add_parser("serve", help="run the service with granian (ASGI)")
    serve.add_argument("--host", default=os.environ.get("INVENTORY_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("INVENTORY_PORT", "8002")))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("INVENTORY_WORKERS", "1")))
    options = parser.parse_args(argv)
    try:
        if options.command == "migrate":
            applied = migrate(database_url(os.environ))
            print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
        elif options.command == "check":
            Settings.from_environment()
            waiting = pending(database_url(os.environ))
            if waiting:
                print(f"migrations pending: {', '.join(waiting)} (run: python -m inventory_service migrate)")
                return EXIT_PENDING
            print("configuration valid; database up to date")
        elif options.command == "prune-idempotency-keys":
            print(f"deleted {asyncio.run(_prune())} expired idempotency keys")
        else:
            Settings.from_environment()  # fail here, naming the variable, rather than inside a worker
            return _serve(options.host, options.port, options.workers)
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIGURATION
    except MigrationError as exc:
        print(f"migration error: {exc}", file=sys.stderr)
        return EXIT_MIGRATION
    return 0


def _serve(host: str, port: int, workers: int) -> int:
    from granian.constants import Interfaces
    from granian.server import Server

    Server(
        "inventory_service.app:from_environment",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        factory=True,
        websockets=False,
        log_access=False,
    ).serve()
    return 0


async def _prune() -> int:
    from inventory_service.database import pool
    from inventory_service.store.idempotency import prune

    async with pool(database_url(os.environ), size=1) as connections, connections.connection() as conn:
        return await prune(conn)


if __name__ == "__main__":
    sys.exit(main())
