"""Page-number pagination as the monolith answers it: `?page_size=` (1 to 100, else 400), `?page=` (a number
or `last`, else 404 "Invalid page."), and `next`/`previous` as absolute URLs of the same query."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

from inventory_service.errors import InvalidInput, NotFound

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page:
    number: int
    size: int
    count: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // self.size))


def page_size(query: Mapping[str, str]) -> int:
    raw = query.get("page_size")
    if raw is None:
        return DEFAULT_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if size < 1:
        raise InvalidInput("Invalid input: page_size.", fields={"page_size": ["Must be a positive integer."]})
    if size > MAX_PAGE_SIZE:
        message = f"Ensure this value is less than or equal to {MAX_PAGE_SIZE}."
        raise InvalidInput("Invalid input: page_size.", fields={"page_size": [message]})
    return size


def page(query: Mapping[str, str], *, size: int, count: int) -> Page:
    """Django's Paginator.validate_number behind DRF's paginator: any refusal is one 404."""
    pages = max(1, -(-count // size))
    raw = query.get("page") or "1"
    try:
        number = pages if raw == "last" else int(raw)
    except ValueError as exc:
        raise NotFound("Invalid page.") from exc
    if number < 1 or number > pages:
        raise NotFound("Invalid page.")
    return Page(number=number, size=size, count=count)


def links(page: Page, *, base_url: str, query_string: str) -> tuple[str | None, str | None]:
    """DRF's replace_query_param/remove_query_param: the query parsed, `page` set or dropped, keys sorted."""
    params = parse_qs(query_string, keep_blank_values=True)

    def with_page(number: int) -> str:
        changed = {k: v for k, v in params.items() if k != "page"}
        if number != 1:
            changed["page"] = [str(number)]
        encoded = urlencode(sorted(changed.items()), doseq=True)
        return f"{base_url}?{encoded}" if encoded else base_url

    next_url = with_page(page.number + 1) if page.number < page.pages else None
    previous_url = with_page(page.number - 1) if page.number > 1 else None
    return next_url, previous_url
