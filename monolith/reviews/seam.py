"""Who answers for reviews: the side that owns their data, as the migration engine recorded it at the last flip
(`ownership`), asked on every call, as the catalog's seam does (catalog/seam.py). The monolith's tables while it
owns reviews; the reviews service from cutover on (the monolith's reviews API relays to it, its selectors ask it);
the tables again after a rollback (docs/seam.md §9)."""

from __future__ import annotations

import functools

from django.conf import settings

from common.errors import Unavailable
from ownership import selectors as ownership_selectors
from reviews.service_client import ReviewsServiceClient

SPEC = "reviews"  # the engine's name for this extraction (migration-playbook/specs/reviews.toml)


def service_owns_reviews() -> bool:
    return ownership_selectors.data_owner(spec=SPEC) == ownership_selectors.Owner.SERVICE


def reviews_service() -> ReviewsServiceClient:
    if not settings.REVIEWS_SERVICE_URL:
        raise Unavailable(
            "The reviews service owns reviews, but this monolith is not configured to reach it "
            "(REVIEWS_SERVICE_URL); nothing was changed."
        )
    return _client(settings.REVIEWS_SERVICE_URL, settings.STRANGLER_IDENTITY_KEY, settings.REVIEWS_SERVICE_TIMEOUT_S)


@functools.cache
def _client(base_url: str, identity_key: str, timeout_s: float) -> ReviewsServiceClient:
    # One client (and so one breaker and one set of pooled connections) per configuration, for the process's life.
    return ReviewsServiceClient(base_url=base_url, identity_key=identity_key, timeout_s=timeout_s)
