"""The engine's one exception hierarchy and the exit code of each branch (the table every `strangler` group shares).

PlaybookError           base of every error the engine raises on purpose; `hint` says what to do next
 ├── InvalidInput       usage or invalid input                                                exit 1
 │    ├── SpecError     the spec file is missing, malformed or inconsistent
 │    └── SettingsError an environment variable (or the option standing for it) is invalid
 ├── Conflict           changed since read (the proxy's route table): re-read and retry       exit 2
 ├── ConnectError       a dependency cannot be reached: a database, the proxy's admin API     exit 3
 ├── NotAuthorised      the proxy's admin API refused the token                               exit 4
 ├── StateError         refused: out of order, or by a gate; the hint names the step first    exit 5
 │    └── ProxyRefused  the proxy's admin API refused a step (its error code kept)
 ├── EngineError        a database refused an operation mid-run                               exit 6
 ├── HandoverAborted    cutover, rollback or retire stopped and restored the previous state   exit 7
 ├── DifferencesFound   verify found rows that differ                                         exit 8
 └── SchemaError        a table or column the spec names does not exist                       exit 9

Driver errors (psycopg, sqlite3) are translated where the engine meets them (`database.connection.translate`),
HTTP errors where it meets the proxy (`handover.proxy_control`); both with `raise … from exc`. The CLI turns a
`PlaybookError` into its `exit_code` and prints its message and hint; `verify` exits 8 for a report with
differences without raising, since the differences are its result.
"""

from __future__ import annotations

from strangler_proxy.cli import exit_codes

# The table is the proxy's (`strangler_proxy.cli.exit_codes`): one meaning per number for every `strangler` group.
EXIT_CODES_HELP = exit_codes.epilog()


class PlaybookError(Exception):
    """Base of every error the playbook raises on purpose. `hint` says what to do next."""

    exit_code: int = exit_codes.DATABASE_REFUSED

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  → {self.hint}" if self.hint else self.message


class InvalidInput(PlaybookError):
    exit_code = exit_codes.INVALID


class SpecError(InvalidInput):
    pass


class SettingsError(InvalidInput):
    pass


class Conflict(PlaybookError):
    exit_code = exit_codes.CONFLICT


class ConnectError(PlaybookError):
    exit_code = exit_codes.UNREACHABLE


class NotAuthorised(PlaybookError):
    exit_code = exit_codes.NOT_AUTHORISED


class StateError(PlaybookError):
    exit_code = exit_codes.REFUSED


class ProxyRefused(StateError):
    """The proxy's admin API refused a step (e.g. the data gate); `code` is its error code."""

    def __init__(self, message: str, *, code: str, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.code = code


class EngineError(PlaybookError):
    exit_code = exit_codes.DATABASE_REFUSED


class HandoverAborted(PlaybookError):
    """A cutover, rollback or retire stopped and put routes, ownership and the write hold back as they were."""

    exit_code = exit_codes.HANDOVER_ABORTED


class DifferencesFound(PlaybookError):
    """Verify found rows that differ where a step needs them equal (the CLI's `verify` reports them instead)."""

    exit_code = exit_codes.DIFFERENCES


class SchemaError(PlaybookError):
    exit_code = exit_codes.SCHEMA_MISMATCH


def summary(exc: BaseException) -> str:
    """One line for an error inside another message: the engine's own message, else the type and text."""
    return exc.message if isinstance(exc, PlaybookError) else f"{type(exc).__name__}: {exc}"
