"""The monolith reads the owner the engine records (strangler_playbook.handover.owner_record writes the same
table with SQL; e2e/test_seam_through_the_proxy.py runs the real cutover and rollback against it)."""

from django.db import connection

from ownership import selectors, services
from ownership.selectors import Owner


def test_the_monolith_owns_what_the_engine_never_recorded(db):
    assert selectors.data_owner(spec="catalog") == Owner.MONOLITH


def test_the_last_recorded_owner_is_the_owner(db):
    services.data_owner_record(spec="catalog", owner=Owner.SERVICE)
    assert selectors.data_owner(spec="catalog") == Owner.SERVICE
    assert selectors.data_owner(spec="reviews") == Owner.MONOLITH

    services.data_owner_record(spec="catalog", owner=Owner.MONOLITH)
    assert selectors.data_owner(spec="catalog") == Owner.MONOLITH


def test_a_row_written_as_the_engine_writes_it_is_read(db):
    with connection.cursor() as cursor:
        cursor.execute(
            'INSERT INTO "_strangler_data_owner" (spec, owner, recorded_at) VALUES (%s, %s, %s)',
            ["catalog", "service", "2026-11-25T14:28:00+00:00"],
        )

    assert selectors.data_owner(spec="catalog") == Owner.SERVICE
