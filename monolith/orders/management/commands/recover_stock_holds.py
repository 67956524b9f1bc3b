"""python manage.py recover_stock_holds: finish the order saga's outbox (docs/seam.md, "recovery"). Run before the
monolith serves (make up and compose do), and whenever an operator wants the outbox empty now. With nothing to
recover it only reads, and says nothing (unless asked: --json, or -v 2)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from orders import stock_saga
from orders.models import StockHold


class Command(BaseCommand):
    help = (
        "Release the stock held for orders that never committed and carry out the attach, release and fulfil steps "
        "the inventory service is still owed. Exit code 1 when some step could not be carried out (the service did "
        "not answer): run it again later; the monolith's own sweep also retries every few seconds."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--grace",
            type=float,
            default=settings.INVENTORY_SAGA_GRACE_S,
            help="leave rows younger than this many seconds to the requests that wrote them (default "
            "INVENTORY_SAGA_GRACE). 0 before the monolith starts, when no request of its can be in flight",
        )
        parser.add_argument("--json", action="store_true", help="print the counts as JSON, even when all are 0")

    def handle(self, *args: Any, **options: Any) -> None:
        swept = stock_saga.sweep(grace_s=options["grace"])
        owed = StockHold.objects.filter(step__in=stock_saga.OWED).count()
        if options["json"]:
            self.stdout.write(json.dumps({**asdict(swept), "still_owed": owed}))
        elif swept.abandoned or swept.settled or swept.left or owed:
            self.stdout.write(
                f"stock holds: {swept.abandoned} abandoned (their order never committed), {swept.settled} steps "
                f"carried out, {swept.left} failed again; {owed} still owed"
            )
        elif options["verbosity"] >= 2:
            self.stdout.write("stock holds: nothing to recover")
        if swept.left:
            raise SystemExit(1)
