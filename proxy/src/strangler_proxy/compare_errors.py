"""The comparison features' branch of the control plane's exception tree (see control_errors.py).

    ControlPlaneError
    └── CompareError
        ├── UnknownMismatch       no stored mismatch has that id (404)
        ├── CorpusInvalid         a capture corpus cannot be read or a line is not a recorded request (422)
        └── ReplayFailed          a replay target cannot be reached at all (503)

The CLI maps them to exit codes like every control-plane error (1 for bad input, 3 for unreachable).
"""

from __future__ import annotations

from strangler_proxy.control_errors import ControlPlaneError


class CompareError(ControlPlaneError):
    code = "compare_error"


class UnknownMismatch(CompareError):
    status = 404
    code = "unknown_mismatch"

    def __init__(self, mismatch_id: int) -> None:
        self.mismatch_id = mismatch_id
        super().__init__(f"no stored mismatch has id {mismatch_id} (see `strangler diffs list`)")


class CorpusInvalid(CompareError):
    status = 422
    code = "corpus_invalid"


class ReplayFailed(CompareError):
    status = 503
    code = "replay_failed"
