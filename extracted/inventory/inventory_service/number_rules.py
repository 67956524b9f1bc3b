"""How the monolith reads a number from text, rule by rule, so that the same input means the same thing here.

Most integers follow the monolith's one integer rule (its `common/integers.py`, `integer` here): ASCII digits with
an optional sign, nothing around them, within PostgreSQL's bigint — an id in a path, an integer filter, a product
id in a body. Two readers are DRF's own and stay apart: an integer body field that is not an id (a quantity:
`int()` after stripping `.0`) and a primary key of this service's own table (`int()` of anything).
"""

from __future__ import annotations

import re
from typing import Any

# PostgreSQL's bigint, the type of every id column: a key outside it names no row.
SMALLEST_ID = -(2**63)
LARGEST_ID = 2**63 - 1
# PostgreSQL's integer, the type of the quantity columns.
LARGEST_QUANTITY = 2**31 - 1
# DRF's IntegerField refuses longer strings before trying to read them.
MAX_STRING_LENGTH = 1000
_TRAILING_ZERO_DECIMALS = re.compile(r"\.0*\s*$")
GRAMMAR = re.compile(r"[+-]?[0-9]+")


class NotANumber(ValueError):
    pass


class InvalidInteger(ValueError):
    """Text that is not an integer by the one rule; the message is the monolith's."""


class NotAnInteger(InvalidInteger):
    def __init__(self) -> None:
        super().__init__("Enter a whole number.")


class OutOfRange(InvalidInteger):
    def __init__(self, *, negative: bool) -> None:
        if negative:
            super().__init__(f"Ensure this value is greater than or equal to {SMALLEST_ID}.")
        else:
            super().__init__(f"Ensure this value is less than or equal to {LARGEST_ID}.")


def integer(text: str) -> int:
    """The one integer rule."""
    if not GRAMMAR.fullmatch(text):
        raise NotAnInteger()
    negative = text.startswith("-")
    # Counted before int(): Python refuses to convert more than 4300 digits.
    if len(text.lstrip("+-").lstrip("0")) > len(str(LARGEST_ID)):
        raise OutOfRange(negative=negative)
    value = int(text)
    if not SMALLEST_ID <= value <= LARGEST_ID:
        raise OutOfRange(negative=negative)
    return value


def body_id(data: Any) -> int:
    """The monolith's IntegerField for ids in a body: a JSON integer (not a boolean) or text by the one rule.
    NotANumber for anything else (DRF's "A valid integer is required."), OutOfRange past bigint."""
    if isinstance(data, bool) or not isinstance(data, int | str):
        raise NotANumber
    try:
        return integer(str(data))
    except NotAnInteger as exc:
        raise NotANumber from exc


def body_integer(data: Any) -> int:
    """DRF's IntegerField: `int(str(data))` once a trailing `.0…` is dropped (so 2.0 and "2" are 2, 1.5 is not)."""
    try:
        return int(_TRAILING_ZERO_DECIMALS.sub("", str(data)))
    except (ValueError, TypeError) as exc:
        raise NotANumber from exc


def key_lookup(data: Any) -> int:
    """Django's integer primary key lookup (`queryset.get(pk=data)`): `int(data)`, so 1.5 finds row 1 and "abc"
    is a TypeError/ValueError for the caller to report."""
    if isinstance(data, bool):
        raise TypeError("a boolean is not a key")
    return int(data)


def in_id_range(value: int) -> bool:
    return SMALLEST_ID <= value <= LARGEST_ID
