"""Which implementation of the catalog's reads answers (`reads.CatalogReads`): the one on the side that owns the
catalog's data, as the migration engine recorded it at the last flip (`ownership`), asked on every call. Local
while the monolith owns the catalog, the service from cutover on, local again after a rollback (docs/seam.md)."""

from __future__ import annotations

import functools

from django.conf import settings

from catalog.local_reads import LocalCatalog
from catalog.reads import CatalogReads
from catalog.service_client import CatalogServiceClient
from common.errors import Unavailable
from ownership import selectors as ownership_selectors

SPEC = "catalog"  # the engine's name for this extraction (migration-playbook/specs/catalog.toml)
LOCAL = LocalCatalog()


def service_owns_the_catalog() -> bool:
    return ownership_selectors.data_owner(spec=SPEC) == ownership_selectors.Owner.SERVICE


def catalog_reads() -> CatalogReads:
    return catalog_service() if service_owns_the_catalog() else LOCAL


def catalog_service() -> CatalogServiceClient:
    if not settings.CATALOG_SERVICE_URL:
        raise Unavailable(
            "The catalog service owns the catalog, but this monolith is not configured to reach it "
            "(CATALOG_SERVICE_URL); nothing was changed."
        )
    return _client(settings.CATALOG_SERVICE_URL, settings.STRANGLER_IDENTITY_KEY, settings.CATALOG_SERVICE_TIMEOUT_S)


@functools.cache
def _client(base_url: str, identity_key: str, timeout_s: float) -> CatalogServiceClient:
    # One client (and so one breaker and one set of pooled connections) per configuration, for the process's life.
    return CatalogServiceClient(base_url=base_url, identity_key=identity_key, timeout_s=timeout_s)
