"""Process-wide settings of comparison, mismatch storage and capture, from STRANGLER_* variables, checked at start.

Per-route settings (ignore rules, headers, noise sample, gates) live on the route (`compare_settings.py`).

| variable | default | meaning |
|---|---|---|
| STRANGLER_COMPARE | 1 | compare mirrored answers (0: mirror only) |
| STRANGLER_COMPARE_QUEUE | 256 | finished mirrors waiting for the comparator; when full, new ones are skipped |
| STRANGLER_COMPARE_MAX_PER_SECOND | 200 | comparisons a second at most (token bucket); beyond, results are skipped |
| STRANGLER_MISMATCH_SAMPLE | 1.0 | share of mismatches stored |
| STRANGLER_MISMATCH_PER_MINUTE | 60 | at most this many stored per route and minute |
| STRANGLER_MISMATCH_MAX_ROWS | 10000 | stored mismatches kept (oldest deleted first) |
| STRANGLER_MISMATCH_MAX_AGE | 604800 | seconds a stored mismatch is kept |
| STRANGLER_MISMATCH_MAX_BODY | 65536 | bytes of each body kept in a stored mismatch |
| STRANGLER_REDACT_FIELDS | (none) | more JSON/form/query field names whose values are redacted (comma-separated) |
| STRANGLER_REDACT_HEADERS | (none) | more header names whose values are redacted |
| STRANGLER_CAPTURE_FILE | (none) | record a corpus of requests here (JSON lines) |
| STRANGLER_CAPTURE_SAMPLE | 0.01 | share of requests recorded |
| STRANGLER_CAPTURE_MAX_BYTES | 104857600 | stop recording when the file reaches this size |
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from strangler_proxy.control_errors import ConfigInvalid

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CompareConfig:
    enabled: bool = True
    queue: int = 256
    max_per_second: float = 200.0  # bounds the comparator's CPU: ~150 µs per comparison of a small JSON answer
    mismatch_sample: float = 1.0
    mismatch_per_minute: int = 60
    mismatch_max_rows: int = 10_000
    mismatch_max_age: float = 7 * 86400.0
    mismatch_max_body: int = 64 * 1024
    redact_fields: tuple[str, ...] = ()
    redact_headers: tuple[str, ...] = ()
    capture_file: str | None = None
    capture_sample: float = 0.01
    capture_max_bytes: int = 100 * 1024 * 1024

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CompareConfig:
        env = os.environ if environ is None else environ
        d = cls()

        def read(name: str, default: T, parse: Callable[[str], T], check: Callable[[T], bool], want: str) -> T:
            var = "STRANGLER_" + name
            if var not in env:
                return default
            raw = env[var]
            try:
                value = parse(raw)
            except ValueError:
                raise ConfigInvalid(f"{var}={raw!r} is invalid: expected {want}") from None
            if not check(value):
                raise ConfigInvalid(f"{var}={raw!r} is invalid: expected {want}")
            return value

        def flag(raw: str) -> bool:
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("1", "true", "yes")

        def names(raw: str) -> tuple[str, ...]:
            return tuple(n.strip() for n in raw.split(",") if n.strip())

        def fraction(v: float) -> bool:
            return 0 <= v <= 1

        def positive(v: float) -> bool:
            return v >= 1

        return cls(
            enabled=read("COMPARE", d.enabled, flag, lambda v: True, "1 or 0"),
            queue=read("COMPARE_QUEUE", d.queue, int, positive, "a whole number >= 1"),
            max_per_second=read(
                "COMPARE_MAX_PER_SECOND", d.max_per_second, float, lambda v: v > 0, "a number of comparisons > 0"
            ),
            mismatch_sample=read("MISMATCH_SAMPLE", d.mismatch_sample, float, fraction, "a number from 0 to 1"),
            mismatch_per_minute=read(
                "MISMATCH_PER_MINUTE", d.mismatch_per_minute, int, lambda v: v >= 0, "a whole number >= 0"
            ),
            mismatch_max_rows=read("MISMATCH_MAX_ROWS", d.mismatch_max_rows, int, positive, "a whole number >= 1"),
            mismatch_max_age=read("MISMATCH_MAX_AGE", d.mismatch_max_age, float, lambda v: v > 0, "seconds > 0"),
            mismatch_max_body=read("MISMATCH_MAX_BODY", d.mismatch_max_body, int, lambda v: v >= 0, "bytes >= 0"),
            redact_fields=read("REDACT_FIELDS", d.redact_fields, names, lambda v: True, "comma-separated names"),
            redact_headers=read("REDACT_HEADERS", d.redact_headers, names, lambda v: True, "comma-separated names"),
            capture_file=env.get("STRANGLER_CAPTURE_FILE") or None,
            capture_sample=read("CAPTURE_SAMPLE", d.capture_sample, float, fraction, "a number from 0 to 1"),
            capture_max_bytes=read("CAPTURE_MAX_BYTES", d.capture_max_bytes, int, positive, "bytes >= 1"),
        )
