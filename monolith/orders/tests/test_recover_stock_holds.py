"""`manage.py recover_stock_holds`, which runs at every start of the monolith: with nothing to recover it only reads
and prints nothing; otherwise it says what it did."""

import json
from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import StockHold

Step = StockHold.Step
WRITES = ("INSERT", "UPDATE", "DELETE")


def recover(*args: str) -> tuple[str, list[str]]:
    """What the command printed, and the writes it sent to the database."""
    out = StringIO()
    with CaptureQueriesContext(connection) as queries:
        call_command("recover_stock_holds", "--grace", "0", *args, stdout=out)
    return out.getvalue(), [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(WRITES)]


def test_with_nothing_to_recover_it_only_reads_and_prints_nothing(db):
    finished = StockHold.objects.create(key="finished", step=Step.DONE, reservation_ids=[])

    printed, writes = recover()

    assert (printed, writes) == ("", [])
    assert StockHold.objects.get(id=finished.id).updated_at == finished.updated_at


def test_with_nothing_to_recover_it_says_so_when_asked(db):
    assert recover("-v", "2") == ("stock holds: nothing to recover\n", [])
    printed, writes = recover("--json")
    assert writes == []
    assert json.loads(printed) == {"abandoned": 0, "settled": 0, "left": 0, "still_owed": 0}


def test_it_says_what_it_recovered(db):
    crashed = StockHold.objects.create(
        key="crashed", step=Step.RESERVE, reservation_ids=[], created_at=timezone.now() - timedelta(seconds=60)
    )

    printed, writes = recover()

    assert printed == (
        "stock holds: 1 abandoned (their order never committed), 1 steps carried out, 0 failed again; 0 still owed\n"
    )
    assert writes
    assert StockHold.objects.get(id=crashed.id).step == Step.DONE
