"""Process-wide settings of comparison, mismatch storage and capture (per-route ones are `Route.compare`).

Each field is a setting of `strangler proxy` (`STRANGLER_COMPARE*`, `_MISMATCH_*`, `_REDACT_*`, `_CAPTURE_*`), read
and checked at start with every other one (`control/settings.py`; the table is in proxy/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CompareConfig:
    enabled: bool = True  # compare mirrored answers (False: mirror only)
    queue: int = 256  # finished mirrors waiting for the comparator; when full, new ones are skipped
    max_per_second: float = 200.0  # bounds the comparator's CPU: ~150 µs per comparison of a small JSON answer
    mismatch_sample: float = 1.0  # share of mismatches stored
    mismatch_per_minute: int = 60  # at most this many stored per route and minute
    mismatch_max_rows: int = 10_000  # stored mismatches kept (oldest deleted first)
    mismatch_max_age: float = 7 * 86400.0  # seconds a stored mismatch is kept
    mismatch_max_body: int = 64 * 1024  # bytes of each body kept in a stored mismatch
    redact_fields: tuple[str, ...] = ()  # more JSON/form/query field names whose values are redacted
    redact_headers: tuple[str, ...] = ()  # more header names whose values are redacted
    capture_file: str | None = None  # record a corpus of requests here (JSON lines)
    capture_sample: float = 0.01  # share of requests recorded
    capture_max_bytes: int = 100 * 1024 * 1024  # stop recording when the file reaches this size
