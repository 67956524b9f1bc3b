"""Every integer the service reads from text follows the monolith's one integer rule (number_rules.integer): ASCII
digits with an optional sign, within bigint. A filter outside it is a 400 naming the filter, a path id outside it
matches no route (the API's 404), a product id in a body outside bigint a 400 — never a database error. And, as in
the monolith, credentials are judged before the URL is resolved."""

import re
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import assert_error
from inventory_service.number_rules import LARGEST_ID, SMALLEST_ID, InvalidInteger, integer

FILTERS = [
    ("/api/inventory/stock/", "product"),
    ("/api/inventory/stock/", "warehouse"),
    ("/api/inventory/reservations/", "product"),
    ("/api/inventory/reservations/", "warehouse"),
    ("/api/inventory/reservations/", "order"),
]
PATHS = [
    "/api/inventory/warehouses/{}/",
    "/api/inventory/stock/{}/",
    "/api/inventory/reservations/{}/",
    "/api/inventory/reservations/{}/release/",
    "/api/inventory/availability/{}/",
]
EDGES = ["99999999999999999999", "-99999999999999999999", str(LARGEST_ID + 1), str(SMALLEST_ID - 1), "9" * 5000]
EDGES += ["1.5", "1e3", "0x10", "1_000", " 7", "7 ", "１", "٣", "²", "nan", "-", "+"]  # noqa: RUF001


def read_as_integer(text: str) -> int | None:
    """The rule said once more, independently: what the text means, or None."""
    if not (text.isascii() and re.fullmatch(r"[+-]?[0-9]+", text)) or len(text.lstrip("+-").lstrip("0")) > 19:
        return None
    value = int(text)
    return value if SMALLEST_ID <= value <= LARGEST_ID else None


integer_like = st.one_of(
    st.integers().map(str),
    st.integers(LARGEST_ID - 2, LARGEST_ID + 2).map(str),
    st.integers(SMALLEST_ID - 2, SMALLEST_ID + 2).map(str),
    st.tuples(st.sampled_from(["+", "-", "0", "00", " ", "\t"]), st.integers(0)).map(lambda p: f"{p[0]}{p[1]}"),
    st.text(st.characters(categories=["Nd"]), min_size=1, max_size=25),
    st.floats().map(str),
    st.sampled_from(EDGES),
)


@settings(max_examples=500, deadline=None)
@given(integer_like)
def test_the_rule_reads_integer_like_text_as_the_monolith_does(text):
    meant = read_as_integer(text)
    if meant is None:
        with pytest.raises(InvalidInteger):
            integer(text)
    else:
        assert integer(text) == meant


@pytest.mark.parametrize(("path", "name"), FILTERS)
def test_a_filter_outside_the_rule_is_a_400_naming_it(client_for, path, name):
    staff = client_for("charlie")
    for text in EDGES:
        error = assert_error(staff.get(path, params={name: text}), 400, "invalid")
        assert list(error["fields"]) == [name], (text, error)
    assert staff.get(path, params={name: "007"}).status_code == 200


@pytest.mark.parametrize("path", PATHS)
def test_a_path_id_outside_the_rule_matches_no_route(client_for, path):
    staff = client_for("charlie")
    for text in [*EDGES, "abc"]:
        response = staff.get(path.format(quote(text, safe="")))
        assert assert_error(response, 404, "not_found")["message"].startswith("No API endpoint at "), text
        assert "allow" not in response.headers
    assert "allow" in staff.get(path.format("-1")).headers  # in the rule: the endpoint answers (its own 404)


@pytest.mark.parametrize(
    ("number", "message"),
    [
        (10**20, f"Ensure this value is less than or equal to {LARGEST_ID}."),
        (-(10**20), f"Ensure this value is greater than or equal to {SMALLEST_ID}."),
    ],
)
def test_a_product_id_in_a_body_outside_bigint_is_a_400(client_for, warehouse, number, message):
    body = {"product": number, "warehouse": warehouse(), "quantity": 1}

    error = assert_error(client_for("charlie").post("/api/inventory/stock/", json=body), 400, "invalid")

    assert error["fields"] == {"product": [message]}


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_an_identity_that_does_not_verify_is_a_401_on_a_path_no_view_serves(client_for, method):
    response = client_for(None, **{"X-Strangler-Identity": "v1.e30.AAAA"}).request(method, "/api/inventory/nope/")

    assert_error(response, 401, "authentication_failed")
    assert response.headers["www-authenticate"] == "Token"


def test_on_a_path_no_view_serves_vary_names_the_cookie_where_the_monolith_reads_its_session(client_for):
    assert client_for(None, Cookie="sessionid=abc").get("/api/inventory/nope/").headers.get("vary") == "Cookie"
    assert "vary" not in client_for("alice").get("/api/inventory/nope/").headers  # a token: no session read
    assert "vary" not in client_for(None).get("/api/inventory/nope/").headers
    # the proxy's word that it withheld the client's cookie (a route that does not forward credentials) counts alike
    withheld = client_for(None, **{"X-Strangler-Credentials": "cookie"})
    assert withheld.get("/api/inventory/nope/").headers.get("vary") == "Cookie"
