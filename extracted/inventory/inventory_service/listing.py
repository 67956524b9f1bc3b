"""A list endpoint's query string as SQL, by the monolith's rules: filters (django-filter), `search` (DRF's
SearchFilter), `ordering` (DRF's OrderingFilter plus the id as the last tie-breaker).

Column expressions come from the endpoint's own declaration, never from the query string; values are always
bound parameters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from inventory_service import number_rules as numbers
from inventory_service.errors import InvalidInput
from inventory_service.fields import invalid_fields

TRUE_WORDS = {"true", "1", "yes"}
FALSE_WORDS = {"false", "0", "no"}
# Django's smart_split: words, keeping quoted phrases (with escaped quotes inside) together.
_SMART_SPLIT = re.compile(
    r"""((?:[^\s'"]*(?:(?:"(?:[^"\\]|\\.)*" | '(?:[^'\\]|\\.)*')[^\s'"]*)+) | \S+)""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Filter:
    param: str
    column: str
    kind: Literal["number", "boolean", "choice", "text_iexact"]
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Listing:
    filters: Sequence[Filter] = ()
    search: Sequence[str] = ()  # columns searched (case-insensitive containment)
    ordering: Mapping[str, str] = field(default_factory=dict)  # ?ordering= name -> column
    default_ordering: str = "id"


@dataclass
class Where:
    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "TRUE"


def where(listing: Listing, query: Mapping[str, str]) -> Where:
    """Filters then search, as the monolith's filter backends run; a bad value is a 400 naming every bad filter."""
    found = Where()
    errors: dict[str, list[str]] = {}
    for spec in listing.filters:
        raw = query.get(spec.param, "")
        try:
            _apply_filter(spec, raw, found)
        except ValueError as exc:
            errors[spec.param] = [str(exc)]
    if errors:
        raise invalid_fields(errors)
    terms = search_terms(query.get("search", ""))
    if listing.search:
        for term in terms:
            pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            found.clauses.append("(" + " OR ".join(f"UPPER({c}::text) LIKE UPPER(%s)" for c in listing.search) + ")")
            found.params.extend([pattern] * len(listing.search))
    return found


def _apply_filter(spec: Filter, raw: str, found: Where) -> None:
    if spec.kind == "number":
        if raw == "":
            return
        try:
            number = numbers.integer(raw)
        except numbers.InvalidInteger as exc:
            raise ValueError(str(exc)) from exc
        found.clauses.append(f"{spec.column} = %s")
        found.params.append(number)
    elif spec.kind == "boolean":
        word = raw.strip().lower()
        if word == "":
            return
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise ValueError("Use true or false.")
        found.clauses.append(f"{spec.column} = %s")
        found.params.append(word in TRUE_WORDS)
    elif spec.kind == "choice":
        if raw == "":
            return
        if raw not in spec.choices:
            raise ValueError(f"Select a valid choice. {raw} is not one of the available choices.")
        found.clauses.append(f"{spec.column} = %s")
        found.params.append(raw)
    else:
        text = raw.strip()
        if text == "":
            return
        if "\x00" in text:
            raise ValueError("Null characters are not allowed.")
        found.clauses.append(f"UPPER({spec.column}::text) = UPPER(%s)")
        found.params.append(text)


def search_terms(value: str) -> list[str]:
    """DRF's search_smart_split: words and quoted phrases, commas separating too."""
    if "\x00" in value:
        raise InvalidInput("Null characters are not allowed.")
    terms = []
    for match in _SMART_SPLIT.finditer(value):
        term = match.group(0).strip(",")
        if term.startswith(('"', "'")) and term[0] == term[-1]:
            quote = term[0]
            terms.append(term[1:-1].replace("\\" + quote, quote).replace("\\\\", "\\"))
        else:
            terms.extend(part.strip() for part in term.split(",") if part)
    return terms


def order_by(listing: Listing, query: Mapping[str, str]) -> str:
    """Only the declared fields count (others are dropped); with none left, the default; the id breaks ties."""
    chosen = [term for term in _ordering_terms(query.get("ordering", "")) if term.lstrip("-") in listing.ordering]
    if not chosen:
        chosen = [listing.default_ordering]
    if not any(term.lstrip("-") == "id" for term in chosen):
        chosen.append("id")
    return ", ".join(
        listing.ordering.get(term.removeprefix("-"), term.removeprefix("-")) + (" DESC" if term.startswith("-") else "")
        for term in chosen
    )


def _ordering_terms(value: str) -> Iterator[str]:
    for term in (part.strip() for part in value.split(",")) if value else ():
        # DRF drops one leading "-" and checks what is left: "--name" names no field.
        if term.startswith("-") and term[1:].startswith("-"):
            continue
        yield term
