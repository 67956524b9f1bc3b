"""`strangler diffs` on mismatches the comparator stored behind the real proxy: list, show, export as a test or curl."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import io
import json
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from compare_helpers import CompareStack, MakeStack, Shop, require_installed_commands
from control_plane_helpers import STRANGLER
from strangler_proxy.dataplane.access_log import configure_access_log
from strangler_proxy.dataplane.access_log import logger as access_logger
from strangler_proxy.dataplane.identity import IdentitySigner
from strangler_proxy.dataplane.model import CompareSettings, Route, Stage
from upstream_double import Received, respond

pytest_plugins = ["compare_fixtures"]

PRODUCTS = "/api/catalog/products"


def strangler(*args: str, store: Path | str) -> subprocess.CompletedProcess[str]:
    require_installed_commands()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRANGLER_")}
    return subprocess.run(
        [STRANGLER, "diffs", "--route-store", str(store), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def one_mismatch(make: MakeStack, tmp_path: Path, *, signed_in: bool = True) -> tuple[CompareStack, Path, int]:
    db = tmp_path / "routes.sqlite3"
    route = Route("/api/catalog", "catalog", Stage.SHADOW, compare=CompareSettings(noise_sample=0.0))
    cs = make(route, service=Shop(price_style="short"), route_store_url=str(db))
    credentials = {"Authorization": "Token s3cret"} if signed_in else {}
    cs.stack.request("GET", PRODUCTS + "?page=1", headers={**credentials, "Accept": "application/json"})
    cs.drain()
    assert cs.mismatches is not None
    (summary,) = cs.mismatches.recent()
    return cs, db, summary.id


def test_list_and_show_read_the_stored_mismatch(make: MakeStack, tmp_path: Path) -> None:
    _, db, mismatch_id = one_mismatch(make, tmp_path)
    listed = strangler("list", "--json", store=db)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)["mismatches"]
    assert (row["id"], row["route"], row["target"], row["fields"]) == (
        mismatch_id,
        "/api/catalog",
        PRODUCTS + "?page=1",
        ["$.results[*].price"],
    )
    human = strangler("list", store=db)
    assert f"GET {PRODUCTS}?page=1  200 -> 200  $.results[*].price" in human.stdout
    shown = strangler("show", str(mismatch_id), store=db)
    assert shown.returncode == 0
    assert '$.results[1].price  changed: "15.00" -> "15"' in shown.stdout
    assert "authorization: [redacted]" in shown.stdout and "s3cret" not in shown.stdout


def test_an_exported_pytest_file_fails_while_the_mismatch_remains_and_passes_once_fixed(
    make: MakeStack, tmp_path: Path
) -> None:
    cs, db, mismatch_id = one_mismatch(make, tmp_path, signed_in=False)
    test_file = tmp_path / "test_repro.py"
    exported = strangler("export", str(mismatch_id), "--pytest", "-o", str(test_file), store=db)
    assert exported.returncode == 0 and f"wrote {test_file}" in exported.stdout

    failing = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:django", str(test_file)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert failing.returncode == 1 and "$.results[1].price" in failing.stdout, failing.stdout
    cs.service.price_style = "text"
    spec = importlib.util.spec_from_file_location("test_repro", test_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.test_the_service_answers_like_the_monolith()  # the same file passes once the service is fixed


def test_the_answer_the_access_log_the_mirror_and_the_stored_mismatch_name_the_same_request_id(
    make: MakeStack, tmp_path: Path
) -> None:
    db = tmp_path / "routes.sqlite3"
    route = Route("/api/catalog", "catalog", Stage.SHADOW, compare=CompareSettings(noise_sample=0.0))
    cs = make(route, service=Shop(price_style="short"), route_store_url=str(db))
    stream = io.StringIO()
    handler = configure_access_log(stream)
    try:
        _, headers, _ = cs.stack.request("GET", PRODUCTS)  # no id from the client: the proxy makes one
        cs.drain()
    finally:
        access_logger.removeHandler(handler)
        access_logger.propagate = True
        access_logger.setLevel(logging.NOTSET)
    request_id = headers["x-request-id"]
    assert [json.loads(line)["request_id"] for line in stream.getvalue().splitlines()] == [request_id]
    assert cs.stack.catalog.received[0].header("X-Request-Id") == request_id.encode()  # the mirror
    listed = strangler("list", "--json", store=db)
    assert [m["request_id"] for m in json.loads(listed.stdout)["mismatches"]] == [request_id]
    assert f"request {request_id}" in strangler("list", store=db).stdout
    (row,) = json.loads(listed.stdout)["mismatches"]
    assert f"request id {request_id}" in strangler("show", str(row["id"]), store=db).stdout


KEY = "a-key-for-the-signed-in-mismatch-test-0123456789"
STAFF = {"id": 7, "username": "staff", "is_staff": True}


@dataclass
class SignedInShop(Shop):
    """Staff also see a draft product: the monolith knows staff by their token (and answers forward auth like
    /internal/identity/), the service by the identity the proxy signed. `draft_price` is how this side writes it."""

    side: str = "monolith"
    draft_price: str = "7.50"

    async def handle(self, req: Received, writer: asyncio.StreamWriter) -> None:
        if req.path == b"/internal/identity/":
            known = req.header("Authorization") == b"Token staff-token"
            await respond(writer, 200, None, json.dumps({"user": STAFF if known else None}).encode())
            return
        if self.side == "monolith":
            staff = req.header("Authorization") == b"Token staff-token"
        else:
            identity = req.header("X-Strangler-Identity") or b"..."
            payload = identity.split(b".")[1]
            staff = b'"staff":true' in base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4))
        results = [*self.products.values(), *([{"id": 3, "name": "draft", "price": self.draft_price}] if staff else [])]
        await respond(writer, 200, None, json.dumps({"count": len(results), "results": results}).encode())


def run_exported(test_file: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STRANGLER_", "REPRO_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:django", str(test_file)],
        cwd=test_file.parent,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_signed_in_mismatch_is_compared_as_that_user_and_its_exported_test_needs_the_credentials(
    make: MakeStack, tmp_path: Path
) -> None:
    db = tmp_path / "routes.sqlite3"
    route = Route("/api/catalog", "catalog", Stage.SHADOW, compare=CompareSettings(noise_sample=0.0))
    service = SignedInShop(side="service", draft_price="7.5")
    cs = make(route, monolith=SignedInShop(), service=service, route_store_url=str(db), identity=IdentitySigner(KEY))
    cs.stack.request("GET", PRODUCTS + "?active=false", headers={"Authorization": "Token staff-token"})
    cs.drain()
    assert cs.mismatches is not None
    (summary,) = cs.mismatches.recent()
    assert summary.fields == ["$.results[*].price"]  # the service answered staff too: only the draft's price differs
    test_file = tmp_path / "test_signed_in.py"
    assert strangler("export", str(summary.id), "--pytest", "-o", str(test_file), store=db).returncode == 0

    anonymous = run_exported(test_file)
    assert anonymous.returncode == 1 and "was signed in" in anonymous.stdout, anonymous.stdout
    as_staff = {"REPRO_AUTHORIZATION": "Token staff-token", "STRANGLER_IDENTITY_KEY": KEY}
    reproduced = run_exported(test_file, **as_staff)
    assert reproduced.returncode == 1 and "$.results[2].price" in reproduced.stdout, reproduced.stdout
    service.draft_price = "7.50"
    fixed = run_exported(test_file, **as_staff)
    assert fixed.returncode == 0, fixed.stdout


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_copy_as_curl_sends_the_same_request_to_each_side(make: MakeStack, tmp_path: Path) -> None:
    cs, db, mismatch_id = one_mismatch(make, tmp_path)
    result = strangler("export", str(mismatch_id), "--curl", store=db)
    assert result.returncode == 0
    commands = [line for line in result.stdout.splitlines() if line.startswith("curl ")]
    assert len(commands) == 2
    assert cs.stack.monolith.url + PRODUCTS + "?page=1" in commands[0]
    assert cs.stack.catalog.url + PRODUCTS + "?page=1" in commands[1]
    assert "s3cret" not in result.stdout and "[redacted]" not in result.stdout
    before = len(cs.stack.catalog.received)
    answer = subprocess.run(commands[1], shell=True, capture_output=True, text=True, timeout=30, check=False)  # noqa: S602
    assert answer.returncode == 0 and '"price": "15"' in answer.stdout
    (sent,) = cs.stack.catalog.received[before:]
    assert (sent.method, sent.target, sent.header("accept")) == (
        "GET",
        b"/api/catalog/products?page=1",
        b"application/json",
    )


def test_each_bad_call_gets_a_clear_error_and_its_exit_code(make: MakeStack, tmp_path: Path) -> None:
    _, db, mismatch_id = one_mismatch(make, tmp_path)
    unknown = strangler("show", "999", "--json", store=db)
    assert unknown.returncode == 1 and json.loads(unknown.stdout)["error"] == "unknown_mismatch"
    assert "no stored mismatch has id 999" in json.loads(unknown.stdout)["detail"]
    both = strangler("export", str(mismatch_id), "--pytest", "--curl", store=db)
    assert both.returncode == 1 and "choose one of --pytest or --curl" in both.stderr
    missing = strangler("list", store=tmp_path / "nowhere.sqlite3")
    assert missing.returncode == 3 and "no route store at" in missing.stderr
    assert not (tmp_path / "nowhere.sqlite3").exists()
