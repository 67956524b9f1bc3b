"""Compare two answers to one request: status, chosen headers, and the body — JSON field by field, other bodies by
hash — after normalisation (`normalise.py`) and minus the route's ignore rules.

    result = compare_responses(expected, actual, settings=route.compare, ctx=context_for(...))
    result.diffs   # [FieldDiff(path="$.results[3].price", field="$.results[*].price", kind="changed", ...)]

`expected` is the reference (the monolith), `actual` the candidate (the service). Paths name where the answers
part: `status`, `header:content-type`, `$.results[3].price` (a JSON field), `body` (a non-JSON body, by hash). The
`field` of a diff is its path with array indexes written `[*]`: statistics add up per field, not per element.
JSON numbers compare by value (1 equals 1.0), but a number never equals a string or a boolean, so a price sent as
"9.99" by one side and 9.99 by the other is a difference on exactly that field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from strangler_proxy.compare.jsonpath import PathPart, PathRule, format_path, generalise, matches_any, parse_path
from strangler_proxy.compare.normalise import Context, headers_to_compare, text_body
from strangler_proxy.dataplane.model import CompareSettings
from strangler_proxy.http.headers import Headers

JSON_LIMIT = 256 * 1024  # larger bodies are compared by hash: parsing them would hold the event loop too long
SHOWN = 200  # characters of a value kept in a diff


class Answer(Protocol):
    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> Headers: ...
    @property
    def body(self) -> bytes: ...
    @property
    def truncated(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class FieldDiff:
    path: str
    field: str
    kind: str  # changed | type | missing (only the reference has it) | extra (only the candidate has it)
    expected: Any = None
    actual: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "field": self.field,
            "kind": self.kind,
            "expected": self.expected,
            "actual": self.actual,
        }


@dataclass(slots=True)
class Comparison:
    diffs: list[FieldDiff] = field(default_factory=list)
    body_compared: str = "json"  # json | hash | skipped (a body was truncated)

    @property
    def equal(self) -> bool:
        return not self.diffs


_RULES: dict[tuple[str, ...], tuple[PathRule, ...]] = {}


def rules_for(ignore: Sequence[str]) -> tuple[PathRule, ...]:
    key = tuple(ignore)
    rules = _RULES.get(key)
    if rules is None:
        if len(_RULES) > 1000:
            _RULES.clear()
        rules = _RULES[key] = tuple(parse_path(text) for text in key)
    return rules


def compare_responses(
    expected: Answer, actual: Answer, *, settings: CompareSettings, ctx: Context, json_limit: int = JSON_LIMIT
) -> Comparison:
    result = Comparison()
    diffs = result.diffs
    if expected.status != actual.status:
        diffs.append(FieldDiff("status", "status", "changed", expected.status, actual.status))
    want = headers_to_compare(expected.headers, settings.headers, ctx)
    got = headers_to_compare(actual.headers, settings.headers, ctx)
    for name in sorted(want.keys() | got.keys()):
        a, b = want.get(name), got.get(name)
        if a != b:
            kind = "missing" if b is None else "extra" if a is None else "changed"
            diffs.append(FieldDiff(f"header:{name}", f"header:{name}", kind, a, b))
    if expected.truncated or actual.truncated:
        result.body_compared = "skipped"
        return result
    if expected.body == actual.body:
        result.body_compared = "hash" if not _looks_json(expected) else "json"
        return result
    left = _json(expected.body, json_limit)
    right = _json(actual.body, json_limit)
    if left is not _NOT_JSON and right is not _NOT_JSON:
        rules = rules_for(settings.ignore)
        _walk(left, right, [], rules, diffs, ctx)
        return result
    result.body_compared = "hash"
    a_hash, b_hash = body_hash(text_body(expected.body, ctx)), body_hash(text_body(actual.body, ctx))
    if a_hash != b_hash:
        diffs.append(FieldDiff("body", "body", "changed", preview(expected.body), preview(actual.body)))
    return result


def body_hash(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()[:16]


_NOT_JSON = object()


def _looks_json(answer: Answer) -> bool:
    return answer.body[:1] in (b"{", b"[")


def _json(body: bytes, limit: int) -> Any:
    first = body.lstrip()[:1]
    if not body or len(body) > limit or (first not in (b"{", b"[", b'"') and not first.isdigit()):
        return _NOT_JSON
    try:
        return json.loads(body)
    except ValueError:
        return _NOT_JSON


def _walk(
    a: Any, b: Any, path: list[PathPart], rules: tuple[PathRule, ...], diffs: list[FieldDiff], ctx: Context
) -> None:
    if rules and path and matches_any(rules, path):
        return
    ta, tb = type(a), type(b)
    if ta is dict and tb is dict:
        for key in a:
            path.append(key)
            if key in b:
                _walk(a[key], b[key], path, rules, diffs, ctx)
            elif not (rules and matches_any(rules, path)):
                diffs.append(FieldDiff(format_path(path), generalise(path), "missing", shown(a[key]), None))
            path.pop()
        for key in b:
            if key not in a:
                path.append(key)
                if not (rules and matches_any(rules, path)):
                    diffs.append(FieldDiff(format_path(path), generalise(path), "extra", None, shown(b[key])))
                path.pop()
        return
    if ta is list and tb is list:
        for i in range(max(len(a), len(b))):
            path.append(i)
            if i >= len(b):
                if not (rules and matches_any(rules, path)):
                    diffs.append(FieldDiff(format_path(path), generalise(path), "missing", shown(a[i]), None))
            elif i >= len(a):
                if not (rules and matches_any(rules, path)):
                    diffs.append(FieldDiff(format_path(path), generalise(path), "extra", None, shown(b[i])))
            else:
                _walk(a[i], b[i], path, rules, diffs, ctx)
            path.pop()
        return
    if ta is tb or _kind(a) == _kind(b):
        # Strings are normalised only when they differ: most fields are equal, and normalising costs.
        if a == b or (ta is str and tb is str and ctx.text(a) == ctx.text(b)):
            return
        diffs.append(FieldDiff(format_path(path), generalise(path), "changed", shown(a), shown(b)))
    else:
        diffs.append(FieldDiff(format_path(path), generalise(path), "type", shown(a), shown(b)))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def shown(value: Any) -> Any:
    if isinstance(value, dict | list):
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return value if len(text) <= SHOWN else text[:SHOWN] + "…"
    if isinstance(value, str) and len(value) > SHOWN:
        return value[:SHOWN] + "…"
    return value


def preview(body: bytes) -> str:
    text = body[:SHOWN].decode("utf-8", "replace")
    return f"{body_hash(body)} {text}" + ("…" if len(body) > SHOWN else "")
