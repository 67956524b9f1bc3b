"""The engine's admin-API client turns each kind of answer into the engine's error with the shared exit code.

The real proxy answers these calls in the end-to-end suite (e2e/test_cutover_through_the_proxy.py: unreachable,
wrong token, the data gate, whole cutovers); a stale route-table version or a failing route store cannot be
provoked there on demand, so here a small HTTP server on loopback stands in for the admin API and answers
what each test scripts, recording what it was asked.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from strangler_playbook.errors import (
    Conflict,
    ConnectError,
    ExitCode,
    NotAuthorised,
    PlaybookError,
    ProxyRefused,
    StateError,
)
from strangler_playbook.handover.proxy_control import ProxyAdminControl
from strangler_playbook.handover.proxy_seam import DataState, Release, RouteInfo, WriteHold

ROUTES = {
    "version": 7,
    "table": {"routes": [{"path": "/api/catalog", "stage": "canary", "percent": 10, "data": "catalog"}]},
}


@dataclass
class AdminDouble:
    """Answers (method, path) with a scripted (status, body); records every request as (method, path, body)."""

    answers: dict[tuple[str, str], list[tuple[int, Any]]] = field(default_factory=dict)
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    url: str = ""

    def script(self, method: str, path: str, *answers: tuple[int, Any]) -> None:
        self.answers.setdefault((method, path), []).extend(answers)


@pytest.fixture
def admin() -> Iterator[AdminDouble]:
    double = AdminDouble()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            double.calls.append((self.command, self.path, body))
            double.authorizations.append(self.headers.get("authorization"))
            queue = double.answers.get((self.command, self.path)) or [(404, {"error": "not_found"})]
            status, answer = queue.pop(0) if len(queue) > 1 else queue[0]
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    double.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield double
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def control(admin: AdminDouble, token: str = "s3cret") -> ProxyAdminControl:  # noqa: S107 - a test token
    return ProxyAdminControl(admin.url, token, author="alice@test")


def test_it_reads_a_route_and_moves_it_with_the_version_it_read(admin: AdminDouble) -> None:
    admin.script("GET", "/routes", (200, ROUTES))
    admin.script("POST", "/routes", (200, {"version": 8}))
    proxy = control(admin)
    assert proxy.route("/api/catalog") == RouteInfo("/api/catalog", "canary", 10, "catalog")
    proxy.set_stage("/api/catalog", "canary", percent=25, data="catalog", reason="why")
    assert admin.calls[-1] == (
        "POST",
        "/routes",
        {
            "path": "/api/catalog",
            "stage": "canary",
            "reason": "why",
            "expected_version": 7,
            "author": "alice@test",
            "data": "catalog",
            "percent": 25,
        },
    )


def test_a_route_the_proxy_does_not_have_is_refused_naming_the_command_to_add_it(admin: AdminDouble) -> None:
    admin.script("GET", "/routes", (200, ROUTES))
    with pytest.raises(StateError) as caught:
        control(admin).route("/api/orders")
    assert caught.value.exit_code == ExitCode.REFUSED
    assert "strangler routes set /api/orders" in caught.value.hint


def test_it_publishes_the_data_state_as_the_gate_reads_it(admin: AdminDouble) -> None:
    admin.script("PUT", "/data-state", (200, {}))
    state = DataState("catalog", "syncing", 0.25, True, "2026-01-01T00:00:00+00:00")
    control(admin).publish_data_state(("/api/catalog",), state, owner="monolith")
    assert admin.calls == [
        (
            "PUT",
            "/data-state",
            {
                "spec": "catalog",
                "routes": ["/api/catalog"],
                "phase": "syncing",
                "owner": "monolith",
                "lag_seconds": 0.25,
                "verify_clean": True,
                "verified_at": "2026-01-01T00:00:00+00:00",
            },
        )
    ]


def test_a_hold_is_released_per_route_and_an_expired_one_is_not_an_error(admin: AdminDouble) -> None:
    admin.script("POST", "/holds", (201, {"id": "h1"}), (201, {"id": "h2"}))
    admin.script(
        "DELETE",
        "/holds",
        (200, {"released": 3, "waits": {"held": 3, "p99_ms": 40}}),
        (404, {"error": "unknown_hold", "detail": "no hold 'h2'"}),
    )
    proxy = control(admin)
    hold = proxy.hold_writes(("/api/a", "/api/b"), max_hold_s=5, max_queue=10)
    assert hold == WriteHold("h1,h2", ("/api/a", "/api/b"), 5)
    assert proxy.release_writes(hold, to="service") == Release(3, {"held": 3, "p99_ms": 40})
    assert [(m, p, b) for m, p, b in admin.calls if m == "DELETE"] == [
        ("DELETE", "/holds", {"id": "h1"}),
        ("DELETE", "/holds", {"id": "h2"}),
    ]


def test_holds_taken_before_a_refusal_are_released_at_once(admin: AdminDouble) -> None:
    admin.script("POST", "/holds", (201, {"id": "h1"}), (409, {"error": "writes_in_flight", "detail": "busy"}))
    admin.script("DELETE", "/holds", (200, {"released": 0, "waits": {}}))
    with pytest.raises(ProxyRefused) as caught:
        control(admin).hold_writes(("/api/a", "/api/b"), max_hold_s=5, max_queue=10)
    assert caught.value.code == "writes_in_flight"
    assert admin.calls[-1] == ("DELETE", "/holds", {"id": "h1"})


@pytest.mark.parametrize(
    ("status", "body", "error", "exit_code"),
    [
        (401, {"error": "unauthorized"}, NotAuthorised, 4),
        (403, {"error": "forbidden"}, NotAuthorised, 4),
        (409, {"error": "stale_version", "detail": "the table is at version 9"}, Conflict, 2),
        (409, {"error": "data_not_ready", "detail": "run strangler data verify"}, ProxyRefused, 5),
        (422, {"error": "invalid", "detail": "stage: unknown"}, ProxyRefused, 5),
        (503, {"error": "store_unavailable", "detail": "route store down"}, ConnectError, 3),
    ],
)
def test_each_refusal_becomes_the_error_with_the_shared_exit_code(
    admin: AdminDouble, status: int, body: dict[str, str], error: type[PlaybookError], exit_code: int
) -> None:
    admin.script("GET", "/routes", (200, ROUTES))
    admin.script("POST", "/routes", (status, body))
    with pytest.raises(PlaybookError) as caught:
        control(admin).set_stage("/api/catalog", "live", percent=0, data="catalog", reason="why")
    assert type(caught.value) is error
    assert caught.value.exit_code == exit_code
    if error is ProxyRefused:
        assert caught.value.code == body["error"]  # type: ignore[attr-defined]


def test_nothing_answering_is_a_dependency_out_of_reach(admin: AdminDouble) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    proxy = ProxyAdminControl(f"http://127.0.0.1:{port}", "", author="alice@test")
    with pytest.raises(ConnectError) as caught:
        proxy.route("/api/catalog")
    assert caught.value.exit_code == ExitCode.UNREACHABLE
    assert "STRANGLER_ADMIN_URL" in caught.value.hint


def test_the_token_is_sent_as_a_bearer_token_and_none_without_one(admin: AdminDouble) -> None:
    admin.script("GET", "/routes", (200, ROUTES))
    control(admin, token="s3cret").route("/api/catalog")
    control(admin, token="").route("/api/catalog")
    assert admin.authorizations == ["Bearer s3cret", None]
