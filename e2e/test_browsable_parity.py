"""HTML, with the settings `make up` runs: the monolith offers DRF's browsable API in development, but not on the
catalog's paths, which speak JSON only in every environment, as the catalog service does. A browsable page needs a
login and a CSRF cookie, and only the monolith has sessions: a team moving production traffic keeps the answers
production gives (JSON, a 404 for ?format=api, a 406 for HTML only) and gets them in development too."""

from __future__ import annotations

import pytest

from test_edges_parity import BROWSER, CATEGORIES, PRODUCTS

# (persona, path, query, extra headers)
HTML = [
    ("anon", PRODUCTS, {"format": "api"}, {}),
    ("alice", PRODUCTS, {"format": "api"}, {}),
    ("charlie", PRODUCTS + "{p[TENT-0001]}/", {"format": "api"}, {}),
    ("invalid", PRODUCTS, {"format": "api"}, {}),
    ("anon", PRODUCTS, {}, {"Accept": "text/html"}),
    ("charlie", CATEGORIES, {}, {"Accept": "text/html"}),
    ("anon", PRODUCTS, {}, {"Accept": BROWSER}),
    ("alice", CATEGORIES + "{c[trail]}/", {}, {"Accept": BROWSER}),
    ("anon", "/api/catalog/nope/", {"format": "api"}, {}),
]


@pytest.mark.parametrize("case", HTML, ids=lambda case: f"{case[1]} {case[2] or case[3]} as {case[0]}")
def test_in_development_the_catalog_answers_a_browser_as_in_production(development, monolith, stack, case):
    who, path, query, headers = case
    path = path.format(p=stack.shop.products, c=stack.shop.categories)

    expected = development.monolith.ask(who, "GET", path, params=query, headers=headers)
    actual = development.service.ask(who, "GET", path, params=query, headers=headers)

    assert actual == expected
    assert expected == monolith.ask(who, "GET", path, params=query, headers=headers)  # and as in production
    assert not expected.headers.get("content-type", "").startswith("text/html")


def test_no_catalog_answer_sets_a_csrf_cookie_in_development(development, stack):
    for side in (development.monolith, development.service):
        response = side.client.get(PRODUCTS, params={"format": "api"}, headers={"Accept": "text/html"})
        assert "set-cookie" not in response.headers, side.name


def test_the_monoliths_other_apps_keep_their_browsable_api_in_development(development):
    response = development.monolith.client.get("/api/reviews/", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
