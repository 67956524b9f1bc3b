"""Pages as the monolith pages: 20 by default, page_size up to 100, anything else refused rather than capped."""

import pytest

from strangler_kit.testing import assert_error


def test_a_list_is_paged_by_twenty_with_links(anon):
    page = anon.get("/api/numbers/").json()

    assert page["count"] == 45
    assert page["results"] == list(range(1, 21))
    assert page["next"] == "http://testserver/api/numbers/?page=2"
    assert page["previous"] is None


def test_page_size_picks_the_page_length(anon):
    assert anon.get("/api/numbers/?page_size=40&page=2").json()["results"] == [41, 42, 43, 44, 45]


@pytest.mark.parametrize("size", ["0", "-1", "ten", "101"])
def test_a_page_size_out_of_bounds_is_refused_not_capped(anon, size):
    error = assert_error(anon.get(f"/api/numbers/?page_size={size}"), 400, "invalid")

    assert list(error["fields"]) == ["page_size"]


def test_a_page_past_the_end_is_a_404(anon):
    assert_error(anon.get("/api/numbers/?page=9"), 404, "not_found")
