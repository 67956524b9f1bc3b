"""Writes to the ownership record. The migration engine is its writer in production (it writes the same row with
SQL during a flip); this service is for tests and for an operator repairing the record by hand."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import transaction

from ownership.models import DataOwner


@transaction.atomic
def data_owner_record(*, spec: str, owner: DataOwner.Owner) -> DataOwner:
    record, _ = DataOwner.objects.update_or_create(
        spec=spec, defaults={"owner": owner, "recorded_at": datetime.now(UTC).isoformat()}
    )
    return record
