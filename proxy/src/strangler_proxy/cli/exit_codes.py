"""The exit codes of every `strangler` command group, defined once (the engine's `strangler data` uses them too).

| code | meaning |
|---|---|
| 0 | ok |
| 1 | usage or invalid input |
| 2 | conflict: changed since read, re-read and retry |
| 3 | cannot reach a dependency (admin API, route store, database) |
| 4 | not authorised (token) |
| 5 | refused: out of order or by a gate (the message names the step to run first) |
| 6 | a database refused an operation mid-run |
| 7 | handover aborted, previous state restored |
| 8 | differences found (verify) |
| 9 | schema mismatch (a table or column is missing) |

A group uses the codes that can happen in it and lists them in its `--help` with `epilog(...)`; the same cause
gives the same code in every group (a wrong token is 4 everywhere). `exit_code_for` maps this distribution's
errors (`errors.py`) to them.
"""

from __future__ import annotations

from strangler_proxy.errors import (
    AdminCallFailed,
    AdminUnreachable,
    DataNotReady,
    StaleVersion,
    StoreUnavailable,
    StranglerError,
)

OK = 0
INVALID = 1
CONFLICT = 2
UNREACHABLE = 3
NOT_AUTHORISED = 4
REFUSED = 5
DATABASE_REFUSED = 6
HANDOVER_ABORTED = 7
DIFFERENCES = 8
SCHEMA_MISMATCH = 9

MEANINGS = {
    OK: "ok",
    INVALID: "usage or invalid input",
    CONFLICT: "conflict: changed since read, re-read and retry",
    UNREACHABLE: "cannot reach a dependency (admin API, route store, database)",
    NOT_AUTHORISED: "not authorised (token)",
    REFUSED: "refused: out of order or by a gate (the message names the step to run first)",
    DATABASE_REFUSED: "a database refused an operation mid-run",
    HANDOVER_ABORTED: "handover aborted, previous state restored",
    DIFFERENCES: "differences found (verify)",
    SCHEMA_MISMATCH: "schema mismatch (a table or column is missing)",
}

# The codes each group of this distribution can exit with.
PROXY_CODES = (OK, INVALID, UNREACHABLE)
ROUTES_CODES = (OK, INVALID, CONFLICT, UNREACHABLE, NOT_AUTHORISED, REFUSED)
DIFFS_CODES = (OK, INVALID, UNREACHABLE)
REPLAY_CODES = (OK, INVALID, UNREACHABLE, DIFFERENCES)


def epilog(codes: tuple[int, ...] = tuple(MEANINGS)) -> str:
    """The `--help` epilog listing `codes` (click keeps its line breaks)."""
    lines = ["\b", "Exit codes:"] + [f"  {code}  {MEANINGS[code]}" for code in codes]
    return "\n".join(lines)


def exit_code_for(exc: StranglerError) -> int:
    """The exit code of an error of this distribution, whichever group met it."""
    if isinstance(exc, AdminUnreachable | StoreUnavailable):
        return UNREACHABLE
    if isinstance(exc, AdminCallFailed):
        if exc.status in (401, 403):
            return NOT_AUTHORISED
        if exc.status == 409:
            return REFUSED if exc.code == "data_not_ready" else CONFLICT
        return UNREACHABLE if exc.status >= 500 else INVALID
    if isinstance(exc, StaleVersion):
        return CONFLICT
    if isinstance(exc, DataNotReady):
        return REFUSED
    if exc.status == 503:  # a replay target, the monolith: a dependency that cannot be reached
        return UNREACHABLE
    return INVALID
