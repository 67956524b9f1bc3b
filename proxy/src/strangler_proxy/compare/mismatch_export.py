"""A stored mismatch turned into something a developer runs: copy-as-curl commands (one per side) and a pytest file
that replays the request against both upstreams and fails while their answers differ.

    text = curl_commands(record)      # record: MismatchStore.get(id), redacted as stored
    text = pytest_file(record)

`strangler diffs export` and the operator console both use these, so what each exports is the same file.
"""

from __future__ import annotations

import shlex
from typing import Any

from strangler_proxy.compare.redact import REDACTED

NOT_SENT = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive", "x-strangler-shadow"})


def _sent_headers(record: dict[str, Any]) -> list[tuple[str, str]]:
    return [(n, v) for n, v in record["request"]["headers"] if n.lower() not in NOT_SENT and REDACTED not in v]


def curl_commands(record: dict[str, Any]) -> str:
    request = record["request"]
    lines = [f"# mismatch {record['id']} on {record['route']}: {', '.join(record.get('net_fields', []))}"]
    for side, label in (("expected", "monolith"), ("actual", "service")):
        parts = ["curl", "-sS", "-i", "-X", request["method"]]
        for name, value in _sent_headers(record):
            parts += ["-H", f"{name}: {value}"]
        if request["body"]:
            parts += ["--data-binary", request["body"]]
        parts.append(record["upstreams"][side] + request["target"])
        lines.append(f"# {label}")
        lines.append(" ".join(shlex.quote(p) for p in parts))
    return "\n".join(lines) + "\n"


PYTEST_TEMPLATE = '''"""Reproduces mismatch {id} stored by Strangler's comparator on route {route} ({created_at}).

The monolith and the service answered this request differently on: {fields}.
Run: MONOLITH_URL=... SERVICE_URL=... pytest {{this file}}; it fails while the difference remains.
{credentials_note}
"""

import os

import httpx
import pytest
from strangler_proxy.compare.normalise import context_for
from strangler_proxy.compare.response_diff import compare_responses
from strangler_proxy.dataplane.identity import IdentitySigner, User, with_identity
from strangler_proxy.dataplane.model import CompareSettings
from strangler_proxy.dataplane.shadow import CapturedResponse

MONOLITH_URL = os.environ.get("MONOLITH_URL", {monolith!r})
SERVICE_URL = os.environ.get("SERVICE_URL", {service!r})
SERVICE_NAME = os.environ.get("SERVICE_NAME", {service_name!r})  # the identity's audience: the route's upstream
FORWARD_CREDENTIALS = {forward_credentials!r}  # the route passes the client's credentials on to the service
METHOD = {method!r}
TARGET = {target!r}
HEADERS = {headers!r}
BODY = {body!r}
SIGNED_IN = {signed_in!r}  # the recorded request carried credentials (redacted when it was stored)
SETTINGS = CompareSettings(ignore={ignore!r}, headers={compared!r})
RECORDED_DIFFERENCES = {diffs!r}


def credentials() -> list[tuple[str, str]]:
    given = [
        (name, os.environ[variable])
        for variable, name in (("REPRO_AUTHORIZATION", "authorization"), ("REPRO_COOKIE", "cookie"))
        if os.environ.get(variable)
    ]
    if SIGNED_IN and not given:
        pytest.fail(
            "the recorded request was signed in and its credentials were redacted: set REPRO_AUTHORIZATION "
            "(e.g. 'Token ...') or REPRO_COOKIE to a user's, and STRANGLER_IDENTITY_KEY to the proxy's, so that "
            "both sides answer that user as they did; without them this test would compare anonymous answers"
        )
    return given


def service_headers(given: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """What the proxy sends the service for these credentials: the monolith says who they name (forward auth, as
    docs/identity.md describes), the identity is signed with the proxy's key for the service, and the credentials
    themselves are withheld unless the route forwards them."""
    if not given:
        return []
    if not SERVICE_NAME:
        pytest.fail("set SERVICE_NAME to the route's upstream (the audience the service accepts identities for)")
    key = os.environ.get("STRANGLER_IDENTITY_KEY")
    if not key:
        pytest.fail("set STRANGLER_IDENTITY_KEY to the proxy's: the service trusts only identities the proxy signs")
    asked = httpx.get(
        MONOLITH_URL + "/internal/identity/",
        headers=[*given, ("x-original-method", METHOD), ("x-original-uri", TARGET)],
        timeout=10,
    )
    assert asked.status_code == 200, f"the monolith refused these credentials ({{asked.status_code}}): {{asked.text}}"
    user = asked.json()["user"]
    if user is None:
        pytest.fail("the credentials given name nobody (the monolith answered user: null)")
    signed = with_identity(
        [(name.encode(), value.encode()) for name, value in given],
        IdentitySigner(key),
        User(user["id"], user["username"], user["is_staff"], user.get("customer")),
        audience=SERVICE_NAME,
        forward_credentials=FORWARD_CREDENTIALS,
    )
    return [(name.decode(), value.decode()) for name, value in signed]


def send(base: str, extra: list[tuple[str, str]]) -> CapturedResponse:
    response = httpx.request(METHOD, base + TARGET, headers=[*HEADERS, *extra], content=BODY or None, timeout=10)
    return CapturedResponse(response.status_code, list(response.headers.raw), response.content, False, 0.0)


def test_the_service_answers_like_the_monolith() -> None:
    given = credentials()
    expected = send(MONOLITH_URL, given)
    actual = send(SERVICE_URL, service_headers(given))
    ctx = context_for([(n.encode(), v.encode()) for n, v in HEADERS], MONOLITH_URL, SERVICE_URL)
    diffs = compare_responses(expected, actual, settings=SETTINGS, ctx=ctx).diffs
    assert [(d.path, d.expected, d.actual) for d in diffs] == [], "still differs (recorded: %s)" % RECORDED_DIFFERENCES
'''

CREDENTIALS_NOTE = {
    True: "The request was signed in; its credentials were redacted when the mismatch was stored: set\n"
    "REPRO_AUTHORIZATION / REPRO_COOKIE to a user's and STRANGLER_IDENTITY_KEY to the proxy's\n"
    "(the test fails without them).",
    False: "The request carried no credentials; REPRO_AUTHORIZATION / REPRO_COOKIE send some to try as a user.",
}


def pytest_file(record: dict[str, Any]) -> str:
    net = set(record.get("net_fields", []))
    settings = record.get("settings", {})
    noise = tuple(sorted({d["field"] for d in record["diffs"] if d["field"] not in net and d["field"].startswith("$")}))
    signed_in = any(n.lower() in ("authorization", "cookie") and REDACTED in v for n, v in record["request"]["headers"])
    return PYTEST_TEMPLATE.format(
        id=record["id"],
        signed_in=signed_in,
        credentials_note=CREDENTIALS_NOTE[signed_in],
        route=record["route"],
        created_at=record["created_at"],
        fields=", ".join(sorted(net)) or "(see RECORDED_DIFFERENCES)",
        monolith=record["upstreams"]["expected"],
        service=record["upstreams"]["actual"],
        service_name=record["upstreams"].get("service_name", ""),
        forward_credentials=bool(record["upstreams"].get("forward_credentials", False)),
        method=record["request"]["method"],
        target=record["request"]["target"],
        headers=_sent_headers(record),
        body=record["request"]["body"].encode(),
        # fields the proxy had learned as noise are ignored here too, so the test fails on real differences only
        ignore=tuple(settings.get("ignore", [])) + noise,
        compared=tuple(settings.get("headers", ["content-type"])),
        diffs=[(d["path"], d["expected"], d["actual"]) for d in record["diffs"] if d["field"] in net],
    )
