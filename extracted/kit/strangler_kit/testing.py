"""Assertions and helpers shared by the services' tests."""

from __future__ import annotations

import importlib
import json
import sys
from http.server import BaseHTTPRequestHandler
from types import ModuleType
from typing import Any

# Read from the environment when imported: a test that changes the environment imports them afresh.
SETTINGS_READ_AT_IMPORT = ("config.settings.base", "strangler_kit.base_settings")


def load_settings(module: str) -> ModuleType:
    """Import the settings module `module` (e.g. "config.settings.production") afresh, with what it builds on, so that
    it reads the environment as it is now."""
    for name in (module, *SETTINGS_READ_AT_IMPORT):
        sys.modules.pop(name, None)
    return importlib.import_module(module)


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert `response` is an API error in the one error shape and return its `error` object."""
    assert response.status_code == status, (response.status_code, getattr(response, "content", b"")[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"status", "code", "message", "fields"}, error
    assert error["status"] == status
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    if code is not None:
        assert error["code"] == code, error
    return error


def send_json(handler: BaseHTTPRequestHandler, status: int, document: Any) -> None:
    """Answer the request `handler` serves with `document` as JSON: for the tests' stand-ins of another service."""
    body = json.dumps(document).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
