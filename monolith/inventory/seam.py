"""Who keeps the stock orders reserve: the monolith's own tables, or the inventory service, as the migration engine
recorded it at the last flip (`ownership`, spec "inventory"), asked on every call. While the service owns inventory,
placing, cancelling and shipping an order run the order saga (docs/seam.md) through `InventoryServiceClient`."""

from __future__ import annotations

import functools

from django.conf import settings

from common.errors import Unavailable
from inventory.service_client import InventoryServiceClient
from ownership import selectors as ownership_selectors

SPEC = "inventory"  # the engine's name for this extraction (migration-playbook/specs/inventory.toml)


def service_owns_inventory() -> bool:
    return ownership_selectors.data_owner(spec=SPEC) == ownership_selectors.Owner.SERVICE


def inventory_service() -> InventoryServiceClient:
    if not settings.INVENTORY_SERVICE_URL:
        raise Unavailable(
            "The inventory service owns inventory, but this monolith is not configured to reach it "
            "(INVENTORY_SERVICE_URL)."
        )
    return _client(
        settings.INVENTORY_SERVICE_URL, settings.STRANGLER_IDENTITY_KEY, settings.INVENTORY_SERVICE_TIMEOUT_S
    )


@functools.cache
def _client(base_url: str, identity_key: str, timeout_s: float) -> InventoryServiceClient:
    # One client (one breaker, one set of pooled connections) per configuration, for the process's life.
    return InventoryServiceClient(base_url=base_url, identity_key=identity_key, timeout_s=timeout_s)
