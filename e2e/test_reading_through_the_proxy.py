"""The read suite once more, through the real proxy with /api/catalog `live`: a client that only ever talks to
the proxy, with its monolith token, gets what the monolith itself answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from parity import Side
from test_reading_parity import CASES, case_id


@pytest.fixture(scope="module")
def through_the_proxy(proxy, stack) -> Iterator[Side]:
    side = Side("proxy", proxy.server.url, stack.shop, sign=False)
    proxy.route("live")
    try:
        yield side
    finally:
        proxy.route("off")
        side.close()


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_a_client_of_the_proxy_gets_the_monoliths_answer(monolith, through_the_proxy, stack, missing, case):
    who, method, path, query = case
    ids = {"p": stack.shop.products, "c": stack.shop.categories, "missing": missing}
    path = path.format(**ids)
    query = {key: value.format(**ids) for key, value in query.items()}

    assert through_the_proxy.ask(who, method, path, params=query) == monolith.ask(who, method, path, params=query)
