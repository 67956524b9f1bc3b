"""How the monolith reads a number from text, rule by rule, so that the same input means the same thing here.

Each reader names the monolith's component whose rule it follows (DRF, Django, django-filter). They are kept
apart on purpose: the monolith reads an integer body field, a primary key, a filter and a page number differently
(`int()` after stripping `.0`, `int()` of anything, a Decimal truncated by the database, `int()` of text).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

# PostgreSQL's bigint, the type of every id column: a key outside it names no row.
SMALLEST_ID = -(2**63)
LARGEST_ID = 2**63 - 1
# PostgreSQL's integer, the type of the quantity columns.
LARGEST_QUANTITY = 2**31 - 1
# DRF's IntegerField refuses longer strings before trying to read them.
MAX_STRING_LENGTH = 1000
_TRAILING_ZERO_DECIMALS = re.compile(r"\.0*\s*$")


class NotANumber(ValueError):
    pass


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


def path_key(segment: str) -> int | None:
    """An id in a path, as the monolith's detail views read it (`int()` of the segment); None names no row."""
    try:
        value = int(segment)
    except ValueError:
        return None
    return value if SMALLEST_ID <= value <= LARGEST_ID else None


def filter_number(text: str) -> int | None:
    """django-filter's NumberFilter: a finite Decimal (else "Enter a number."), which the integer column then
    compares as `int()` of it (truncated). None when the number is outside bigint and so matches no row."""
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise NotANumber from exc
    if not value.is_finite():
        raise NotANumber
    number = int(value)
    return number if SMALLEST_ID <= number <= LARGEST_ID else None


def in_id_range(value: int) -> bool:
    return SMALLEST_ID <= value <= LARGEST_ID
