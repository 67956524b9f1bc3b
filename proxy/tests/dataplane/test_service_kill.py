"""Issue 19, "done when": the service killed with SIGKILL under a mixed load through the proxy at `live` (real
processes: proxy, monolith and service doubles; keep-alive clients that send a write's head and body in separate
writes; `service_kill.py`). No safe request fails (they fall back to the monolith), no write is applied twice, and
the service serves again within a second of answering its health check."""

from __future__ import annotations

from pathlib import Path

from service_kill import run


def test_a_service_killed_under_load_fails_no_safe_request_and_is_back_within_a_second(tmp_path: Path) -> None:
    result = run(tmp_path, clients=6, warm=0.8, down=1.2, after=1.5)

    assert result.safe > 100 and result.unsafe > 30, result
    assert result.failed_safe == 0, result.failures
    assert result.writes_applied_twice == 0
    assert result.seconds_to_breaker_open is not None  # the breaker did open while the service was down
    assert result.seconds_to_recovery is not None and result.seconds_to_recovery < 1.0, result
