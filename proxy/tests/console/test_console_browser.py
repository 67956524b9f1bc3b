"""The console in a real headless Chromium (Debian's, driven by Playwright) against a real `strangler proxy` with
traffic flowing: an operator logs in, sees the routes and their live numbers move, changes a stage with a reason
(confirming the table's diff) and finds it in the audit log, is shown why a change the data state forbids is
refused and what unlocks it, opens a diff side by side, and logs out; a page on another site cannot make the
console change anything."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from console_helpers import CATALOG, Running
from control_plane_helpers import ADMIN_TOKEN, wait_for

pytest_plugins = ("console_fixtures",)

TIMEOUT = 15_000  # ms: a loaded 2-core machine runs several suites at once


@pytest.fixture
def page(chromium: Any, running: Running) -> Iterator[Any]:
    context = chromium.new_context(accept_downloads=True)
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    page.goto(running.console + "/")
    assert page.url == running.console + "/login"
    page.fill("#token", ADMIN_TOKEN)
    page.fill("#name", "alice")
    page.click("#login")
    page.wait_for_url(running.console + "/")
    try:
        yield page
    finally:
        context.close()


def _route_page(page: Any, running: Running, path: str) -> None:
    page.goto(f"{running.console}/route?path={path}")
    page.wait_for_selector("#stage option", state="attached")


def test_an_operator_sees_every_route_and_its_live_numbers_change_while_traffic_flows(page: Any) -> None:
    row = page.locator(f'tr[data-route="{CATALOG}"]')
    row.wait_for()
    assert "shadow" in row.inner_text() and "catalog" in row.inner_text()
    page.wait_for_function(
        "sel => { const c = document.querySelector(sel); return c && parseFloat(c.textContent) > 0; }",
        arg=f'tr[data-route="{CATALOG}"] td.rps',
    )
    first = row.locator("td.rps").inner_text()
    page.wait_for_function(  # polled every second: the number moves while the traffic thread sends
        "([sel, first]) => document.querySelector(sel).textContent !== first",
        arg=[f'tr[data-route="{CATALOG}"] td.rps', first],
    )
    bar = row.locator(".bar .m")
    assert bar.evaluate("el => el.style.width") == "100%"  # a shadow route: the monolith answers everything


def test_a_stage_change_with_a_reason_shows_the_diff_first_and_lands_in_the_audit_log(
    page: Any, running: Running
) -> None:
    running.admin.set_route("/api/reviews", service="catalog", stage="shadow", reason="a route of this test")
    _route_page(page, running, "/api/reviews")
    page.select_option("#stage", "off")
    page.click("#review")
    assert page.locator("#result").inner_text() == "Say why: the reason goes into the audit log."
    page.fill("#reason", "the service's reviews are not ready")
    page.click("#review")
    assert page.locator("#diff").inner_text() == "~ route /api/reviews -> catalog: shadow -> off"
    page.click("#apply")
    page.locator("#applied").wait_for()
    newest = running.admin.history(limit=1)["versions"][0]
    assert (newest["author"], newest["reason"]) == ("alice (console)", "the service's reviews are not ready")
    page.locator("#history tr", has_text="the service's reviews are not ready").wait_for()  # the page re-read it
    first = page.locator("#history tr").first.inner_text()
    assert first.startswith(str(newest["version"])) and "alice (console)" in first


def test_a_change_the_data_state_forbids_is_disabled_with_its_reason_and_what_unlocks_it(
    page: Any, running: Running
) -> None:
    _route_page(page, running, CATALOG)  # stands on the catalog's data, which the engine never reported
    assert page.locator('#stage option[value="canary"]').is_disabled()
    assert page.locator('#stage option[value="live"]').is_disabled()
    refused = page.locator('.forbidden[data-stage="live"]')
    assert "live needs the data of spec 'catalog' synced and verified" in refused.inner_text()
    assert "strangler data cutover" in refused.locator("code").all_inner_texts()[0]
    # A page loaded before the data state changed may still offer it: the proxy refuses it and the page says why.
    page.evaluate("document.querySelector('#stage option[value=\"canary\"]').disabled = false")
    page.select_option("#stage", "canary")
    page.fill("#reason", "try it anyway")
    page.click("#review")
    refusal = page.locator("#refusal")
    assert refusal.inner_text().startswith("data_not_ready: ")
    assert "strangler data publish" in refusal.inner_text()
    assert running.admin.routes()["table"]["routes"][0]["stage"] == "shadow"


def test_a_diff_opens_side_by_side_with_the_differing_field_highlighted(page: Any, running: Running) -> None:
    page.goto(running.console + "/diffs")
    group = page.locator("#groups tr").first
    assert re.search(r"GET /api/catalog/\{id\}\s+\d+\s+\$\.upstream", group.inner_text())
    page.locator("#mismatches a.mismatch").first.click()
    page.locator("#diff-title").wait_for()
    assert page.locator("#expected .hl").inner_text() == '"monolith"'
    assert page.locator("#actual .hl").inner_text() == '"catalog"'
    page.click("#copy-curl")
    curl = page.locator("#curl").inner_text()
    assert curl.count("curl -sS -i -X GET ") == 2  # one command per side
    assert f" {running.monolith}/api/catalog/" in curl and f" {running.catalog}/api/catalog/" in curl
    with page.expect_download() as download:
        page.click("#export-pytest")
    exported = download.value.path().read_text()
    assert "def test_the_service_answers_like_the_monolith" in exported and running.catalog in exported


def test_logging_out_ends_the_session(page: Any, running: Running) -> None:
    page.click("#logout")
    page.wait_for_url(running.console + "/login")
    page.goto(running.console + "/diffs")
    assert page.url == running.console + "/login"
    status = page.evaluate("fetch('/console/api/overview').then(r => r.status)")
    assert status == 401


@pytest.fixture
def other_site() -> Iterator[str]:
    """A page on another site (`localhost` is not `127.0.0.1`'s site) that posts to the console."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>elsewhere</title><p>nothing to see</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_on_another_site_cannot_change_a_route_through_a_logged_in_browser(
    page: Any, running: Running, other_site: str
) -> None:
    version = running.admin.routes()["version"]
    page.goto(other_site)
    change = {"path": CATALOG, "methods": None, "fields": {"stage": "off"}, "reason": "x", "expected_version": version}
    status = page.evaluate(
        """([url, body]) => fetch(url, {method: "POST", credentials: "include", mode: "no-cors",
              headers: {"content-type": "text/plain"}, body: JSON.stringify(body)}).then(r => r.type)""",
        [running.console + "/api/change", change],
    )
    assert status == "opaque"  # the answer is not readable cross-site; what matters is what the console did
    page.evaluate(
        """url => { const f = document.createElement("form"); f.method = "POST"; f.action = url;
              document.body.append(f); f.submit(); }""",
        running.console + "/logout",
    )
    wait_for(lambda: "console POST /console/logout -> 401" in running.proxy.log_text(), 15)
    assert running.admin.routes()["version"] == version
    assert "console POST /console/api/change -> 401" in running.proxy.log_text()  # SameSite=Strict: no cookie sent


def test_the_cutover_view_shows_a_handover_step_by_step_with_the_requests_it_held(page: Any, running: Running) -> None:
    admin = running.admin
    common = {"spec": "stock", "routes": ["/api/stock"], "lag_seconds": 0.0, "verify_clean": True}
    admin.report_data_state(**common, phase="syncing", owner="monolith", verified_at=datetime.now(UTC).isoformat())
    admin.set_route("/api/stock", service="catalog", stage="canary", percent=10, data="stock", reason="this test's")
    holder = "stock/cutover/run-1"
    holds = admin.hold_writes(["/api/stock"], timeout=30, max_queue=10, holder=holder)
    held = threading.Thread(target=lambda: httpx.post(running.proxy.public_url + "/api/stock/1", json={}, timeout=30))
    held.start()  # a write arriving during the hold waits for its release
    page.goto(running.console + "/cutover")
    page.locator("#held-now", has_text="1 request(s) held on /api/stock").wait_for()  # the view polls every second
    verified = datetime.now(UTC).isoformat()
    admin.report_data_state(**common, phase="live", owner="service", verified_at=verified, fence=holds)
    # As `strangler data cutover` ends its hold: the route and the release in one call.
    admin.finish_holds(holds, routes=[{"path": "/api/stock", "stage": "live"}], reason="cutover of stock")
    held.join(30)
    run = page.locator(".handover").first
    run.locator("text=release").wait_for()
    text = run.inner_text()
    assert "stock cutover done" in text and "1 request(s) held" in text and holder in text
    steps = run.locator("ol.steps li b").all_inner_texts()
    assert steps == ["hold", "drain + verify", "flip", "routes", "release"]
    assert "the service owns the data now" in text and "canary 10% -> live" in text
