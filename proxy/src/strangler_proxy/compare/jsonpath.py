"""JSON paths as the comparator writes and matches them: `$.results[3].price`, and rules with wildcards.

A concrete path is a tuple of object keys (str) and array indexes (int); `format_path` writes it as
`$.results[3].price` (keys that are not identifiers as `["a key"]`). A rule is parsed once by `parse_path`:

    $.a.b        exactly that field              $.results[*].price   every element's price
    $.a.*        every member of a               $..updated_at        updated_at at any depth
    $.a[0]       the first element of a          $["odd key"]         a key that is not an identifier
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from strangler_proxy.errors import JsonPathError

PathPart = str | int
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
ANY = "*"  # one step, any key or index
DEEP = ".."  # zero or more steps


@dataclass(frozen=True, slots=True)
class PathRule:
    text: str
    steps: tuple[PathPart | tuple[str], ...]  # a 1-tuple holds ANY or DEEP, so it never equals a real key

    def matches(self, path: Sequence[PathPart]) -> bool:
        return _match(self.steps, 0, path, 0)


def format_path(path: Sequence[PathPart]) -> str:
    out = ["$"]
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif IDENTIFIER.fullmatch(part):
            out.append(f".{part}")
        else:
            out.append(f"[{json.dumps(part)}]")
    return "".join(out)


def generalise(path: Sequence[PathPart]) -> str:
    """The path with every array index written `[*]`: the key under which per-field statistics add up."""
    out = ["$"]
    for part in path:
        if isinstance(part, int):
            out.append("[*]")
        elif IDENTIFIER.fullmatch(part):
            out.append(f".{part}")
        else:
            out.append(f"[{json.dumps(part)}]")
    return "".join(out)


def parse_path(text: str) -> PathRule:
    """Parse a rule; raise JsonPathError saying what is wrong and where."""
    if not isinstance(text, str) or not text.startswith("$"):
        raise JsonPathError(f"{text!r} is not a JSON path: it must start with $ (e.g. $.results[*].price)")
    steps: list[PathPart | tuple[str]] = []
    i = 1
    while i < len(text):
        if text.startswith("..", i):
            steps.append((DEEP,))
            i += 2
            if i < len(text) and text[i] == "*":
                steps.append((ANY,))
                i += 1
                continue
            match = IDENTIFIER.match(text, i)
            if not match:
                raise JsonPathError(f"{text!r}: expected a field name after .. at position {i}")
            steps.append(match.group())
            i = match.end()
        elif text[i] == ".":
            i += 1
            if i < len(text) and text[i] == "*":
                steps.append((ANY,))
                i += 1
                continue
            match = IDENTIFIER.match(text, i)
            if not match:
                raise JsonPathError(f"{text!r}: expected a field name or * after . at position {i}")
            steps.append(match.group())
            i = match.end()
        elif text[i] == "[":
            end = _closing_bracket(text, i)
            inner = text[i + 1 : end]
            if inner == "*":
                steps.append((ANY,))
            elif inner.isdigit():
                steps.append(int(inner))
            elif inner.startswith('"'):
                try:
                    key = json.loads(inner)
                except ValueError as exc:
                    raise JsonPathError(f"{text!r}: {inner} is not a quoted key") from exc
                if not isinstance(key, str):
                    raise JsonPathError(f"{text!r}: {inner} is not a quoted key")
                steps.append(key)
            else:
                raise JsonPathError(f'{text!r}: [{inner}] must be [N], [*] or ["key"]')
            i = end + 1
        else:
            raise JsonPathError(f"{text!r}: unexpected {text[i]!r} at position {i}; use .name, [N] or [*]")
    if steps and steps[-1] == (DEEP,):
        raise JsonPathError(f"{text!r} must not end with ..")
    return PathRule(text, tuple(steps))


def _closing_bracket(text: str, start: int) -> int:
    if text.startswith('["', start):
        i = start + 2
        while i < len(text):
            if text[i] == "\\":
                i += 2
                continue
            if text[i] == '"':
                if text.startswith('"]', i):
                    return i + 1
                break
            i += 1
        raise JsonPathError(f'{text!r}: unterminated ["key"] at position {start}')
    end = text.find("]", start)
    if end < 0:
        raise JsonPathError(f"{text!r}: unclosed [ at position {start}")
    return end


def _match(steps: tuple[PathPart | tuple[str], ...], si: int, path: Sequence[PathPart], pi: int) -> bool:
    while si < len(steps):
        step = steps[si]
        if step == (DEEP,):
            return any(_match(steps, si + 1, path, k) for k in range(pi, len(path) + 1))
        if pi >= len(path):
            return False
        if step != (ANY,) and step != path[pi]:
            return False
        si += 1
        pi += 1
    return pi == len(path)


def matches_any(rules: Sequence[PathRule], path: Sequence[PathPart]) -> bool:
    return any(rule.matches(path) for rule in rules)
