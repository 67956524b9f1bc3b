"""The playbook's one exception hierarchy; the CLI maps each branch to an exit code.

PlaybookError
 ├── SpecError            the spec file is missing, malformed or inconsistent     (exit 1)
 ├── ConnectError         a database cannot be reached                           (exit 3)
 ├── SchemaError          a table or column the spec names does not exist         (exit 4)
 ├── StateError           the engine was asked to do something out of order       (exit 5)
 ├── EngineError          a database refused an operation mid-run                 (exit 6)
 └── HandoverAborted      cutover/rollback stopped and restored the previous state (exit 7)

Verify finding differences is not an error: it is a result, and the CLI exits 2 for it.
"""

from __future__ import annotations


class PlaybookError(Exception):
    """Base of every error the playbook raises on purpose. `hint` says what to do next."""

    exit_code = 6

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  → {self.hint}" if self.hint else self.message


class SpecError(PlaybookError):
    exit_code = 1


class ConnectError(PlaybookError):
    exit_code = 3


class SchemaError(PlaybookError):
    exit_code = 4


class StateError(PlaybookError):
    exit_code = 5


class EngineError(PlaybookError):
    exit_code = 6


class HandoverAborted(PlaybookError):
    """A cutover or rollback stopped and put routes, ownership and the write hold back as they were."""

    exit_code = 7
