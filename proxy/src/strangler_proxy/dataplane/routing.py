"""Canonical request paths and route matching.

Canonicalisation happens once per request, and the canonical path is both what the route table is matched
against and exactly what the upstream receives, so no path trick can make the proxy and the upstream
disagree about which resource was asked for. The rules (RFC 3986 §6.2.2, made strict where upstreams differ):

* the path must start with ``/`` (origin-form); anything else is rejected;
* a ``%`` not followed by two hex digits is rejected;
* an encoded slash or backslash (``%2F``, ``%5C``), an encoded control byte (``%00``-``%1F``, ``%7F``), a raw
  backslash, a raw control byte, a raw ``#`` are rejected: upstreams disagree on what they mean;
* percent-encoded unreserved characters are decoded (``%2e`` → ``.``, ``%41`` → ``A``); every other escape is
  kept with upper-case hex (``%c3%a9`` → ``%C3%A9``);
* raw bytes outside RFC 3986 ``pchar`` (non-ASCII, ``"<>[]^`{|}``) are percent-encoded;
* repeated slashes collapse to one; ``.`` segments are removed, ``..`` removes the previous segment, and a ``..``
  that would climb above the root is rejected; a trailing slash is kept.

The result is a fixpoint: canonicalising a canonical path returns it unchanged. Query strings are never touched.

Matching: ordered rules, longest *segment* prefix wins (``/api/v2`` matches ``/api/v2`` and ``/api/v2/x`` but
never ``/api/v2x``); ``{name}`` matches exactly one non-empty segment; among equally long prefixes the one with
more literal segments wins, then the earlier rule. A route with ``methods`` applies only to those methods
(``HEAD`` counts as ``GET``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from strangler_proxy.dataplane.model import Route, RouteTable
from strangler_proxy.errors import BadRequestPath, Problem, TableInvalid

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS_AND_COLON_AT = frozenset(b"!$&'()*+,;=:@")
_RAW_KEPT = _UNRESERVED | _SUB_DELIMS_AND_COLON_AT
_REJECTED_RAW = frozenset(range(0x21)) | {0x7F, ord("\\"), ord("#")}
_HEX = frozenset(b"0123456789abcdefABCDEF")
_ALREADY_CANONICAL = re.compile(rb"(?:/[A-Za-z0-9\-_~!$&'()*+,;=:@][A-Za-z0-9\-._~!$&'()*+,;=:@]*)*/?")
_PARAM = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")


def canonicalise(raw_path: bytes) -> str:
    """Return the canonical form of a raw request path (no query), or raise `BadRequestPath`."""
    if _ALREADY_CANONICAL.fullmatch(raw_path) and raw_path:
        return raw_path.decode("ascii")
    if not raw_path.startswith(b"/"):
        raise BadRequestPath("the request target must be a path starting with '/'")
    segments: list[str] = []
    trailing_slash = False
    for raw_segment in raw_path[1:].split(b"/"):
        segment = _canonical_segment(raw_segment)
        trailing_slash = segment in ("", ".", "..")
        if segment in ("", "."):
            continue
        if segment == "..":
            if not segments:
                raise BadRequestPath("'..' climbs above the root")
            segments.pop()
            continue
        segments.append(segment)
    if not segments:
        return "/"
    return "/" + "/".join(segments) + ("/" if trailing_slash else "")


def _canonical_segment(raw: bytes) -> str:
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        byte = raw[i]
        if byte == 0x25:  # '%'
            if i + 3 > n or raw[i + 1] not in _HEX or raw[i + 2] not in _HEX:
                raise BadRequestPath("invalid percent escape in the path")
            value = int(raw[i + 1 : i + 3], 16)
            if value in _UNRESERVED:
                out.append(chr(value))
            elif value in (0x2F, 0x5C):
                raise BadRequestPath("encoded slash or backslash in the path")
            elif value < 0x20 or value == 0x7F:
                raise BadRequestPath("encoded control character in the path")
            else:
                out.append(f"%{value:02X}")
            i += 3
            continue
        if byte in _RAW_KEPT:
            out.append(chr(byte))
        elif byte in _REJECTED_RAW:
            raise BadRequestPath("backslash, control character or '#' in the path")
        else:
            out.append(f"%{byte:02X}")
        i += 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class CompiledRoute:
    route: Route
    segments: tuple[str | None, ...]  # None: a {parameter}
    methods: frozenset[str] | None
    names: tuple[str, ...]  # parameter names in order
    rank: tuple[int, int, int]  # precedence: longer prefix, then more literal segments, then earlier rule


class Match:
    """The route a path matched and its parameters: an immutable value (`Final` attributes), compared by value. A
    plain class, which mypyc compiles into a native one, not a frozen dataclass: that one's `__init__` is generated
    Python code, and a match is made for every request."""

    __slots__ = ("params", "route")

    def __init__(self, route: Route, params: dict[str, str]) -> None:
        self.route: Final = route
        self.params: Final = params

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Match) and self.route == other.route and self.params == other.params

    def __repr__(self) -> str:
        return f"Match(route={self.route!r}, params={self.params!r})"


def compile_route_path(path: str) -> tuple[str | None, ...]:
    """Split a route path into canonical literal segments and parameters (None); raise `TableInvalid` on a bad path
    (`table_rules.check_route_path` says the same, with the field, before a table gets here)."""
    if not path.startswith("/"):
        raise _bad_path(f"route path {path!r} must start with '/'")
    segments: list[str | None] = []
    for part in path[1:].split("/"):
        if part == "":
            continue
        if _PARAM.fullmatch(part):
            segments.append(None)
            continue
        if "{" in part or "}" in part:
            raise _bad_path(f"route path {path!r}: a parameter must fill a whole segment, like {{id}}")
        try:
            canonical = canonicalise(("/" + part).encode())
        except BadRequestPath as exc:
            raise _bad_path(f"route path {path!r}: {exc}") from exc
        if canonical != "/" + part:
            raise _bad_path(f"route path {path!r} is not canonical (segment {part!r} → {canonical[1:]!r})")
        segments.append(part)
    return tuple(segments)


def _bad_path(message: str) -> TableInvalid:
    return TableInvalid([Problem("path", message)])


def param_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if _PARAM.fullmatch(part)]


class Router:
    """Matches canonical paths against a table's routes. Built once per table; immutable.

    Candidates are kept sorted by precedence and indexed by their first segment, so a match is the first hit.
    """

    __slots__ = ("_by_first", "_wildcard")

    def __init__(self, table: RouteTable) -> None:
        by_first: dict[str, list[CompiledRoute]] = {}
        wildcard: list[CompiledRoute] = []  # routes whose first segment is a parameter, or the root route
        for index, route in enumerate(table.routes):
            segments = compile_route_path(route.path)
            methods = frozenset(m.upper() for m in route.methods) if route.methods is not None else None
            literal_count = sum(1 for s in segments if s is not None)
            compiled = CompiledRoute(
                route, segments, methods, tuple(param_names(route.path)), (-len(segments), -literal_count, index)
            )
            first = segments[0] if segments else None
            if first is None:
                wildcard.append(compiled)
            else:
                by_first.setdefault(first, []).append(compiled)
        self._wildcard = tuple(sorted(wildcard, key=lambda c: c.rank))
        self._by_first = {k: tuple(sorted(v + wildcard, key=lambda c: c.rank)) for k, v in by_first.items()}

    def match(self, method: str, path: str) -> Match | None:
        parts = path[1:].split("/")
        if parts[-1] == "":
            parts.pop()
        candidates = self._by_first.get(parts[0], self._wildcard) if parts else self._wildcard
        n = len(parts)
        for candidate in candidates:
            methods = candidate.methods
            if methods is not None and method not in methods and not (method == "HEAD" and "GET" in methods):
                continue
            segments = candidate.segments
            if len(segments) > n:
                continue
            for i, segment in enumerate(segments):
                if segment is not None and segment != parts[i]:
                    break
            else:
                if not candidate.names:
                    return Match(candidate.route, {})
                values = [p for s, p in zip(segments, parts, strict=False) if s is None]
                return Match(candidate.route, dict(zip(candidate.names, values, strict=True)))
        return None
