"""A route's comparison settings (`Route.compare`) as plain data and back, every field checked on the way in.

In a routes file they are the route's `[routes.compare]` table; through the admin API the `"compare"` object:

    [[routes]]
    path = "/api/catalog"
    service = "catalog"
    stage = "canary"
    percent = 10
    [routes.compare]
    ignore = ["$.results[*].updated_at", "$..etag"]   # JSON paths never compared (wildcards: * and ..)
    headers = ["content-type", "location"]            # response headers compared
    noise_sample = 0.1                                # share of safe requests the monolith is asked twice
    shadow_monolith = true                            # canary/live: mirror what the service served to the monolith
    gate_min_samples = 100                            # a gate never fires on fewer compared requests
    gate_max_diff_rate = 0.01                         # net diff rate above this rolls the route back one stage
    gate_max_5xx_rate = 0.01                          # the service's 5xx rate above this, likewise
    gate_max_p99_ratio = 2.0                          # service p99 / monolith p99 above this, likewise (0: off)
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

from strangler_proxy.compare.jsonpath import parse_path
from strangler_proxy.dataplane.model import DEFAULT_COMPARE, CompareSettings
from strangler_proxy.errors import JsonPathError, Problem

COMPARE_KEYS = frozenset(f.name for f in fields(CompareSettings))


def compare_to_dict(settings: CompareSettings) -> dict[str, Any]:
    return {
        "ignore": list(settings.ignore),
        "headers": list(settings.headers),
        "noise_sample": settings.noise_sample,
        "shadow_monolith": settings.shadow_monolith,
        "gate": settings.gate,
        "gate_min_samples": settings.gate_min_samples,
        "gate_window": settings.gate_window,
        "gate_max_diff_rate": settings.gate_max_diff_rate,
        "gate_max_5xx_rate": settings.gate_max_5xx_rate,
        "gate_max_p99_ratio": settings.gate_max_p99_ratio,
    }


def compare_from_dict(raw: object, where: str, problems: list[Problem]) -> CompareSettings:
    """Parse a route's `compare` object, appending a problem per bad field (defaults stand in for bad values)."""
    if raw is None:
        return DEFAULT_COMPARE
    if not isinstance(raw, dict):
        problems.append(Problem(where, 'must be an object such as {ignore = ["$.updated_at"]}'))
        return DEFAULT_COMPARE
    for key in raw:
        if key not in COMPARE_KEYS:
            problems.append(Problem(f"{where}.{key}", f"unknown field (known: {', '.join(sorted(COMPARE_KEYS))})"))
    d = DEFAULT_COMPARE
    ignore = _strings(raw, "ignore", d.ignore, where, problems)
    for i, rule in enumerate(ignore):
        try:
            parse_path(rule)
        except JsonPathError as exc:
            problems.append(Problem(f"{where}.ignore[{i}]", str(exc)))
    headers = tuple(h.lower() for h in _strings(raw, "headers", d.headers, where, problems))
    for i, name in enumerate(headers):
        if not name or not all(c.isalnum() or c in "-_" for c in name):
            problems.append(Problem(f"{where}.headers[{i}]", f"{name!r} is not a header name"))
    return CompareSettings(
        ignore=ignore,
        headers=headers,
        noise_sample=_fraction(raw, "noise_sample", d.noise_sample, where, problems),
        shadow_monolith=_flag(raw, "shadow_monolith", d.shadow_monolith, where, problems),
        gate=_flag(raw, "gate", d.gate, where, problems),
        gate_min_samples=_whole(raw, "gate_min_samples", d.gate_min_samples, where, problems, 1, 1_000_000),
        gate_window=_whole(raw, "gate_window", d.gate_window, where, problems, 1, 1_000_000),
        gate_max_diff_rate=_fraction(raw, "gate_max_diff_rate", d.gate_max_diff_rate, where, problems),
        gate_max_5xx_rate=_fraction(raw, "gate_max_5xx_rate", d.gate_max_5xx_rate, where, problems),
        gate_max_p99_ratio=_ratio(raw, "gate_max_p99_ratio", d.gate_max_p99_ratio, where, problems),
    )


def check_compare(settings: CompareSettings, where: str) -> list[Problem]:
    """Rules across fields: a window that cannot hold the minimum sample would never let the gate fire."""
    if settings.gate_window < settings.gate_min_samples:
        return [
            Problem(
                f"{where}.gate_window",
                f"must be at least gate_min_samples ({settings.gate_min_samples}), got {settings.gate_window}",
            )
        ]
    return []


def _strings(
    raw: dict[str, Any], key: str, default: tuple[str, ...], where: str, problems: list[Problem]
) -> tuple[str, ...]:
    value = raw.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(Problem(f"{where}.{key}", "must be a list of strings"))
        return default
    return tuple(value)


def _flag(raw: dict[str, Any], key: str, default: bool, where: str, problems: list[Problem]) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        problems.append(Problem(f"{where}.{key}", "must be true or false"))
        return default
    return value


def _fraction(raw: dict[str, Any], key: str, default: float, where: str, problems: list[Problem]) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        problems.append(Problem(f"{where}.{key}", f"must be a number between 0 and 1, got {value!r}"))
        return default
    return float(value)


def _ratio(raw: dict[str, Any], key: str, default: float, where: str, problems: list[Problem]) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        problems.append(Problem(f"{where}.{key}", f"must be a number >= 0 (0 turns it off), got {value!r}"))
        return default
    return float(value)


def _whole(
    raw: dict[str, Any], key: str, default: int, where: str, problems: list[Problem], low: int, high: int
) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(Problem(f"{where}.{key}", f"must be a whole number between {low} and {high}, got {value!r}"))
        return default
    return value
