"""The one rule for an integer the API reads from text: an id in a path, a filter in a query string, a number in
a body.

    [+-]?[0-9]+   (ASCII digits, nothing around them)   between -2**63 and 2**63 - 1

The range is what every database here stores in an id column (PostgreSQL's bigint, SQLite's INTEGER): a value
outside it would reach the driver and fail there (SQLite raises OverflowError, a 500), so it is refused first.
The grammar is narrower than Python's int(), which also takes surrounding whitespace, underscores and the digits
of other scripts: the monolith and every extracted service read the same text as the same number, or refuse it.

`IdConverter` applies the rule to ids in paths (registered as `<id:…>`, used by `common.routers.ApiRouter`),
`common.filters.IntegerFilter` to query strings and `IntegerField` to bodies.
"""

from __future__ import annotations

import re
from typing import Any

from django.urls import register_converter
from rest_framework import serializers

SMALLEST = -(2**63)
LARGEST = 2**63 - 1
# No re.ASCII needed: the class names the ten ASCII digits, so other scripts' digits do not match.
GRAMMAR = re.compile(r"[+-]?[0-9]+")
ID_CONVERTER = "id"


class InvalidInteger(ValueError):
    """Text that is not an integer by the API's rule; the message says why, in the API's wording."""


class NotAnInteger(InvalidInteger):
    def __init__(self) -> None:
        super().__init__("Enter a whole number.")


class OutOfRange(InvalidInteger):
    def __init__(self, *, negative: bool) -> None:
        if negative:
            super().__init__(f"Ensure this value is greater than or equal to {SMALLEST}.")
        else:
            super().__init__(f"Ensure this value is less than or equal to {LARGEST}.")


def parse_integer(text: str) -> int:
    if not GRAMMAR.fullmatch(text):
        raise NotAnInteger()
    negative = text.startswith("-")
    # Counted before int(): Python refuses to convert more than 4300 digits, with a ValueError of its own.
    if len(text.lstrip("+-").lstrip("0")) > len(str(LARGEST)):
        raise OutOfRange(negative=negative)
    value = int(text)
    if not SMALLEST <= value <= LARGEST:
        raise OutOfRange(negative=negative)
    return value


class IdConverter:
    """`<id:pk>`: a path segment that is not an integer by the rule matches no route (the API's 404)."""

    regex = "[+-]?[0-9]+"

    def to_python(self, value: str) -> int:
        return parse_integer(value)  # InvalidInteger is a ValueError: Django reads it as "no match"

    def to_url(self, value: int | str) -> str:
        return str(value)


register_converter(IdConverter, ID_CONVERTER)


class IntegerField(serializers.IntegerField):
    """DRF's IntegerField read by the rule: a JSON integer (not a boolean) or, from a form, text of the grammar.
    Its messages stay DRF's, like every other field of a body ("A valid integer is required.")."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        try:
            value = parse_integer(str(data))
        except NotAnInteger:
            self.fail("invalid")
        except OutOfRange as exc:
            raise serializers.ValidationError(str(exc), code="invalid") from exc
        return value
