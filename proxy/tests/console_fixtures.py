"""Fixtures for the console tests (`pytest_plugins = ("console_fixtures",)`): a real `strangler proxy` between two
upstream doubles that answer differently (so a shadow route stores mismatches), traffic flowing through it, and
headless Chromium (Debian's, driven by Playwright; never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from console_helpers import CATALOG, Running, Traffic, bearer
from control_plane_helpers import ADMIN_TOKEN, proxy_process, upstream_server, wait_for
from strangler_proxy.control.admin_client import AdminClient

CHROMIUM = os.environ.get("STRANGLER_TEST_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    store = tmp_path_factory.mktemp("console") / "routes.sqlite3"
    with (
        upstream_server("monolith") as monolith,
        upstream_server("catalog") as catalog,
        proxy_process(STRANGLER_ROUTE_STORE=str(store), STRANGLER_MONOLITH_URL=monolith) as proxy,
        AdminClient(proxy.admin_url, ADMIN_TOKEN, author="setup") as admin,
    ):
        admin.set_upstream("catalog", url=catalog, reason="the extracted service")
        admin.set_route(CATALOG, service="catalog", stage="shadow", data="catalog", reason="compare first")
        traffic = Traffic(proxy.public_url, CATALOG)
        try:
            # the comparator has stored mismatches (the doubles name themselves: $.upstream differs)
            wait_for(lambda: bool(httpx.get(proxy.admin_url + "/diffs", headers=bearer()).json()["mismatches"]), 20)
            yield Running(proxy, admin, monolith, catalog)
        finally:
            traffic.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs Chromium at {CHROMIUM} for the console's browser tests (.ci/run installs it)")
        pytest.skip(f"no Chromium at {CHROMIUM}: the console's browser tests need Debian's chromium (`.ci/run` has it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
