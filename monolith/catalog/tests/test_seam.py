"""The catalog's public interface answers from the side that owns the catalog, as the engine recorded it: the
monolith's tables until cutover, the catalog service (a real process) from then on, the tables again after a
rollback. The other apps' own tests show them working through it (`test_*_through_the_seam.py`)."""

from __future__ import annotations

import pytest

from catalog import selectors
from catalog.seam import SPEC
from common.errors import Unavailable
from common.testing import assert_error
from common.testing_services import free_port
from ownership import services as ownership_services
from ownership.selectors import Owner


def test_while_the_monolith_owns_the_catalog_its_tables_answer_and_no_service_is_asked(settings, make_product):
    settings.CATALOG_SERVICE_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    mug = make_product(price="12.50")

    assert selectors.product_exists(product_id=mug.id)
    assert selectors.product_price_quotes(product_ids=[mug.id])[mug.id].price == mug.price


def test_from_cutover_on_the_service_answers(service_owns_the_catalog, service_product):
    tent = service_product(price="199.00", name="Alpine tent", active=False)

    quote = selectors.product_price_quotes(product_ids=[tent["id"], 10**12])
    assert list(quote) == [tent["id"]] and quote[tent["id"]].name == "Alpine tent"
    assert selectors.product_exists(product_id=tent["id"], active_only=False)
    assert not selectors.product_exists(product_id=tent["id"])


def test_the_owner_is_read_on_every_call_so_a_flip_takes_effect_at_once(service_owns_the_catalog, service_product):
    only_in_the_service = service_product()

    assert selectors.product_exists(product_id=only_in_the_service["id"])
    ownership_services.data_owner_record(spec=SPEC, owner=Owner.MONOLITH)  # a rollback's flip
    assert not selectors.product_exists(product_id=only_in_the_service["id"])
    ownership_services.data_owner_record(spec=SPEC, owner=Owner.SERVICE)
    assert selectors.product_exists(product_id=only_in_the_service["id"])


def test_while_the_service_owns_the_catalog_the_monolith_copy_takes_no_writes(
    service_owns_the_catalog, client_for, charlie
):
    created = client_for(charlie).post("/api/catalog/categories/", {"name": "Stale", "slug": "stale"})

    error = assert_error(created, 503, "service_unavailable")
    assert "send them through the proxy" in error["message"]


def test_a_monolith_not_told_where_the_service_is_refuses_and_names_the_setting(service_owns_the_catalog, settings):
    settings.CATALOG_SERVICE_URL = ""

    with pytest.raises(Unavailable, match="CATALOG_SERVICE_URL"):
        selectors.product_exists(product_id=1)
