from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from conftest import Stack
from control_plane_helpers import wait_for
from strangler_proxy.dataplane.access_log import configure_access_log, logger
from strangler_proxy.dataplane.model import Route, Stage


@pytest.fixture
def access_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_access_log(stream)
    yield stream
    logger.removeHandler(handler)
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_request_gives_one_json_access_line_naming_route_stage_and_upstream(
    stack: Stack, access_lines: io.StringIO
) -> None:
    stack.set_routes(Route("/api/catalog", "catalog", Stage.LIVE))
    stack.request("GET", "/api/catalog/1?secret=q", headers={"X-Request-Id": "rid-1"})
    stack.request("GET", "/other")
    first, second = lines(access_lines)
    assert first["request_id"] == "rid-1"
    assert (first["route"], first["stage"], first["upstream"], first["status"]) == (
        "/api/catalog",
        "live",
        "catalog",
        200,
    )
    assert first["path"] == "/api/catalog/1" and first["method"] == "GET"
    assert isinstance(first["duration_ms"], float) and first["bytes_out"] > 0
    assert (second["route"], second["stage"], second["upstream"]) == ("default", "default", "monolith")


def test_the_access_log_never_holds_credentials_or_query_strings(stack: Stack, access_lines: io.StringIO) -> None:
    stack.request(
        "GET",
        "/x?token=query-secret",
        headers={"Authorization": "Bearer auth-secret", "Cookie": "sessionid=cookie-secret"},
    )
    text = access_lines.getvalue()
    assert text and "auth-secret" not in text and "cookie-secret" not in text and "query-secret" not in text


def test_errors_are_logged_with_their_reason(stack: Stack, access_lines: io.StringIO) -> None:
    stack.request("GET", "/a%2fb")
    (line,) = lines(access_lines)
    assert line["status"] == 400 and line["error"] == "bad_request_path" and line["upstream"] == "proxy"


def test_metrics_count_requests_by_route_upstream_and_status_class(stack: Stack) -> None:
    stack.set_routes(Route("/api/catalog", "catalog", Stage.LIVE))
    for _ in range(3):
        stack.request("GET", "/api/catalog/1")
    stack.request("GET", "/a%2fb")
    # A request is counted as it finishes, just after its answer went out: wait for the last one to be.
    refused = 'strangler_proxy_requests_total{route="default",stage="none",status_class="4xx",upstream="proxy"} 1.0'
    wait_for(lambda: refused in stack.app.metrics_text().decode(), timeout=10)
    text = stack.app.metrics_text().decode()
    assert (
        'strangler_proxy_requests_total{route="/api/catalog",stage="live",status_class="2xx",upstream="catalog"} 3.0'
        in text
    )
    assert 'strangler_proxy_request_duration_seconds_count{route="/api/catalog",upstream="catalog"} 3.0' in text
    assert f"strangler_proxy_route_table_version {float(stack.app.table.version)}" in text
    assert stack.app.metrics_content_type.startswith("text/plain")


def test_breaker_state_is_exported_from_the_first_request(stack: Stack) -> None:
    stack.request("GET", "/x")
    assert 'strangler_proxy_breaker_state{upstream="monolith"} 0.0' in stack.app.metrics_text().decode()
