"""Every integer the service reads from text — ids in paths, integer filters, ids in bodies — is read by the
monolith's one rule (common.integers): ASCII digits with an optional sign, within the 64-bit range every database
here stores. Text outside the rule answers 400 with the error body (404 for a path id), never a 500 from the
database driver, on SQLite and PostgreSQL alike.

The paths and filters are found in the URLconf, so a new endpoint is swept without being listed here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote

import django_filters
import pytest
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strangler_kit.filters import IntegerFilter
from strangler_kit.integers import LARGEST, SMALLEST, IdConverter
from strangler_kit.testing import assert_error

# A stand-in id, swapped for the text under test once reverse() has built the path.
MARK = 424242
EDGES = [
    "99999999999999999999",
    "-99999999999999999999",
    str(LARGEST + 1),
    str(SMALLEST - 1),
    "9" * 5000,
    "0" * 30 + "1",
    "+7",
    "-7",
    " 7",
    "7 ",
    "7.0",
    "1.5",
    "1e3",
    "1E3",
    "0x10",
    "1_000",
    "１",  # noqa: RUF001  a fullwidth digit one
    "٣",
    "²",
    "nan",
    "-",
    "+",
    " ",
]


@dataclass(frozen=True)
class IntegerInput:
    app: str
    kind: str  # "filter" or "path"
    url: str  # for a path, with MARK where the id goes
    name: str  # the query parameter or the path parameter

    def __str__(self) -> str:
        return f"{self.app}: {self.url}?{self.name}=" if self.kind == "filter" else f"{self.app}: {self.url}"

    def ask(self, client, text: str):
        if self.kind == "filter":
            return client.get(self.url, {self.name: text})
        return client.get(self.url.replace(str(MARK), quote(text, safe="")))


def _routes(resolver: URLResolver | None = None):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry)
        elif isinstance(entry, URLPattern) and entry.name:
            yield entry


def _filters(view_class) -> dict[str, django_filters.Filter]:
    filterset = getattr(view_class, "filterset_class", None)
    return dict(filterset.base_filters) if filterset else {}


def integer_inputs() -> list[IntegerInput]:
    found = []
    for route in _routes():
        view_class = getattr(route.callback, "cls", None)
        app = route.callback.__module__.split(".")[0]
        converters = getattr(route.pattern, "converters", {})
        ids = [name for name, converter in converters.items() if isinstance(converter, IdConverter)]
        if ids:
            url = reverse(route.name, kwargs=dict.fromkeys(ids, MARK))
            found.extend(IntegerInput(app, "path", url, name) for name in ids)
        elif route.name.endswith("-list"):
            url = reverse(route.name)
            found.extend(
                IntegerInput(app, "filter", url, name)
                for name, filter_ in _filters(view_class).items()
                if isinstance(filter_, IntegerFilter)
            )
    return found


INPUTS = integer_inputs()
APPS = sorted({each.app for each in INPUTS})


def read_as_integer(text: str) -> int | None:
    """The rule, said once more independently of common.integers: what the text means, or None."""
    if not (text.isascii() and re.fullmatch(r"[+-]?[0-9]+", text)):
        return None
    significant = text.lstrip("+-").lstrip("0")
    if len(significant) > 19:
        return None
    value = int(text)
    return value if SMALLEST <= value <= LARGEST else None


def integer_like() -> st.SearchStrategy[str]:
    """Text that a person or a program could mean as an integer, and the near misses."""
    number = st.one_of(st.integers(), st.integers(SMALLEST - 2, SMALLEST + 2), st.integers(LARGEST - 2, LARGEST + 2))
    digits = st.text(st.characters(categories=["Nd"]), min_size=1, max_size=25)
    return st.one_of(
        number.map(str),
        st.tuples(st.sampled_from(["", "+", "-", "0", "00", "+0", "-00"]), number.map(abs)).map(
            lambda parts: f"{parts[0]}{parts[1]}"
        ),
        st.tuples(st.sampled_from([" ", "\t", "\n", "\u00a0"]), number, st.booleans()).map(
            lambda parts: f"{parts[0]}{parts[1]}" if parts[2] else f"{parts[1]}{parts[0]}"
        ),
        digits,
        st.floats(allow_nan=True, allow_infinity=True).map(str),
        st.decimals(allow_nan=False, allow_infinity=False).map(str),
        st.tuples(st.integers(-99, 99), st.sampled_from("eE"), st.integers(-30, 30)).map(
            lambda p: f"{p[0]}{p[1]}{p[2]}"
        ),
        st.integers(1, 10**6).map(lambda n: f"{n:_}"),
        st.sampled_from(EDGES),
    ).filter(bool)


@pytest.fixture
def staff(client_for, charlie, db):
    """Staff see every endpoint, so each answer is about the integer, not about permissions."""
    client = client_for(charlie)
    client.raise_request_exception = False
    return client


def check(client, target: IntegerInput, text: str) -> None:
    response = target.ask(client, text)
    meant = read_as_integer(text)
    if target.kind == "filter":
        if meant is None:
            error = assert_error(response, 400, "invalid")
            assert list(error["fields"]) == [target.name], error
        else:
            assert response.status_code == 200, (text, response.content[:300])
    elif meant is None:
        # No route matched, so no view looked anything up: the API's own 404, without the Allow a DRF view sends.
        assert_error(response, 404, "not_found")
        assert "Allow" not in response, (text, response["Allow"])
    else:
        # A view answered: 200, its own 404 for an id that names nothing, or 405 for a POST-only action.
        assert response.status_code in (200, 404, 405), (text, response.content[:300])
        assert "Allow" in response, text


def test_the_sweep_finds_every_kind_of_integer_input():
    names = {(each.app, each.kind, each.name) for each in INPUTS}
    assert {
        ("catalog", "filter", "category"),
        ("catalog", "filter", "in_category"),
        ("catalog", "filter", "parent"),
        ("catalog", "path", "pk"),
    } <= names
    assert APPS == ["catalog"]


def test_every_filter_on_an_integer_column_reads_integers_by_the_rule():
    """A NumberFilter reads a Decimal: fine for prices, wrong for ids (no integer lookup range-checks a Decimal)."""
    offenders = []
    for route in _routes():
        for name, filter_ in _filters(getattr(route.callback, "cls", None)).items():
            if not isinstance(filter_, django_filters.NumberFilter):
                continue
            model = route.callback.cls.filterset_class._meta.model
            field = model._meta.get_field(filter_.field_name.removesuffix("_id"))
            if not isinstance(field, models.DecimalField | models.FloatField):
                offenders.append(f"{route.name}?{name}")
    assert offenders == []


@pytest.mark.parametrize("target", INPUTS, ids=str)
def test_out_of_range_and_malformed_integers_are_refused_with_the_error_body(staff, target):
    for text in EDGES:
        check(staff, target, text)


@pytest.mark.parametrize("app", APPS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_integer_like_text_is_read_by_one_rule(staff, app, data):
    target = data.draw(st.sampled_from([each for each in INPUTS if each.app == app]), label="input")
    check(staff, target, data.draw(integer_like(), label="text"))


def test_an_id_spelled_with_leading_zeros_or_a_sign_names_the_same_row(anon, make_product):
    product = make_product()

    for spelling in (f"00{product.id}", f"+{product.id}"):
        assert anon.get(f"/api/catalog/products/{spelling}/").json()["id"] == product.id
        assert anon.get("/api/catalog/products/", {"category": f"0{product.category_id}"}).json()["count"] == 1


@pytest.mark.parametrize("number", [10**20, -(10**20), LARGEST + 1, SMALLEST - 1])
@pytest.mark.parametrize("field", ["category", "parent"])
def test_an_id_in_a_body_that_no_column_can_hold_is_a_400(staff, make_category, make_product, field, number):
    path = (
        f"/api/catalog/products/{make_product().id}/"
        if field == "category"
        else f"/api/catalog/categories/{make_category().id}/"
    )

    error = assert_error(staff.patch(path, {field: number}, format="json"), 400, "invalid")

    assert field in error["fields"], error


def test_a_decimal_filter_keeps_reading_decimals(anon, make_product):
    make_product(price=Decimal("9.50"))
    assert anon.get("/api/catalog/products/", {"max_price": "9.5"}).json()["count"] == 1
