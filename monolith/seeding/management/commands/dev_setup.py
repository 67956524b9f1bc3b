"""python manage.py dev_setup: everything `make up` needs before the server starts, in one process."""

from __future__ import annotations

import shlex
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

DEFAULT_SEED_ARGS = "--products 2000 --customers 300 --orders 1500 --lines-per-order 3 --seed 42"


class Command(BaseCommand):
    help = (
        "Migrate, recover the order saga's outbox, seed a demo shop if the catalog is empty (so only on the first "
        "run), ensure the demo users."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seed-args", default=DEFAULT_SEED_ARGS, help=f"seed options (default {DEFAULT_SEED_ARGS!r})"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0, stdout=self.stdout)
        try:
            # Before the server starts, so no request of this monolith is in flight: nothing needs a grace.
            call_command("recover_stock_holds", "--grace", "0", stdout=self.stdout)
        except SystemExit:
            self.stdout.write("some steps stay owed (the inventory service did not answer); the monolith retries them")
        call_command("seed", "--if-empty", *shlex.split(options["seed_args"]), stdout=self.stdout)
        call_command("demo_users", stdout=self.stdout)
