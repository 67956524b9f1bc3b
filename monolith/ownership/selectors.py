"""Reads of the ownership record. A seam asks on every call: one primary-key read of a row the engine changes only
while the domain's writes are held, so an answer can never lag the flip (and no cache has to be invalidated)."""

from __future__ import annotations

from ownership.models import DataOwner

Owner = DataOwner.Owner


def data_owner(*, spec: str) -> Owner:
    """The side that owns `spec`'s data now: the monolith until the engine records otherwise."""
    recorded = DataOwner.objects.filter(spec=spec).values_list("owner", flat=True).first()
    return Owner(recorded) if recorded is not None else Owner.MONOLITH
