"""The owner of a spec's data, as a running `strangler proxy` holds it: it changes only under live write holds that
cover the spec's routes, the data plane sends the routes' writes to it at once, and it survives a restart. Holds
are leases, listed by holder."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from control_plane_helpers import ADMIN_TOKEN, ProxyProcess, proxy_process, upstream_server, wait_for
from strangler_proxy.control.admin_client import AdminClient
from strangler_proxy.errors import AdminCallFailed

pytest_plugins = ("control_plane_fixtures",)

CATALOG = "/api/catalog"


@dataclass
class Running:
    proxy: ProxyProcess
    admin: AdminClient
    store: Path
    monolith: str


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    store = tmp_path / "r.sqlite3"
    with (
        upstream_server("monolith") as monolith,
        upstream_server("catalog") as catalog,
        proxy_process(STRANGLER_ROUTE_STORE=str(store), STRANGLER_MONOLITH_URL=monolith) as proxy,
        AdminClient(proxy.admin_url, ADMIN_TOKEN, author="alice") as admin,
    ):
        admin.set_upstream("catalog", url=catalog, reason="the service")
        admin.set_route(CATALOG, service="catalog", stage="shadow", data="catalog", reason="stands on its data")
        admin.set_route("/api/search", service="catalog", stage="off", data="catalog", reason="the same data")
        yield Running(proxy, admin, store, monolith)


def _report(admin: AdminClient, owner: str, fence: list[str] | None = None) -> dict[str, object]:
    return admin.report_data_state(
        spec="catalog",
        routes=[CATALOG],
        phase="syncing",
        owner=owner,
        lag_seconds=0.0,
        verify_clean=True,
        verified_at=None,
        fence=fence,
    )


def _write_goes_to(proxy: ProxyProcess, path: str = CATALOG + "/products/") -> str:
    return str(httpx.post(proxy.public_url + path, json={}, timeout=10).json()["upstream"])


def test_the_owner_changes_only_under_holds_covering_every_route_of_its_data(running: Running) -> None:
    admin = running.admin
    _report(admin, "monolith")  # what the proxy believes already: no hold needed
    with pytest.raises(AdminCallFailed) as refused:
        _report(admin, "service")
    assert (refused.value.status, refused.value.code) == (409, "holds_not_in_place")
    assert "/api/catalog, /api/search" in refused.value.detail and "no hold was given" in refused.value.detail
    only_catalog = admin.hold_writes([CATALOG], timeout=10, max_queue=10, holder="catalog/cutover/r1")
    with pytest.raises(AdminCallFailed) as uncovered:
        _report(admin, "service", fence=only_catalog)
    assert "/api/search not held" in uncovered.value.detail
    assert _write_goes_to(running.proxy, "/api/search/") == "monolith"  # /api/search is not held: it flows

    fence = [*only_catalog, *admin.hold_writes(["/api/search"], timeout=10, max_queue=10, holder="catalog/cutover/r1")]
    assert _report(admin, "service", fence=fence)["owner"] == "service"
    for hold_id in fence:
        admin.release(hold_id)
    assert _write_goes_to(running.proxy) == "catalog"  # a shadow route: its writes follow the data's owner
    assert httpx.get(running.proxy.public_url + CATALOG + "/1", timeout=10).json()["upstream"] == "monolith"
    with pytest.raises(AdminCallFailed) as ended:
        _report(admin, "monolith", fence=fence)  # the holds were released: they fence nothing any more
    assert "ended already" in ended.value.detail
    assert _write_goes_to(running.proxy) == "catalog"


def test_a_restarted_proxy_sends_writes_to_the_owner_it_stored(running: Running) -> None:
    admin = running.admin
    fence = admin.hold_writes([CATALOG, "/api/search"], timeout=10, max_queue=10, holder="catalog/cutover/r2")
    _report(admin, "service", fence=fence)
    for hold_id in fence:
        admin.release(hold_id)
    with (
        proxy_process(STRANGLER_ROUTE_STORE=str(running.store), STRANGLER_MONOLITH_URL=running.monolith) as again,
    ):
        assert _write_goes_to(again) == "catalog"


def test_holds_are_listed_by_holder_renewed_by_it_and_lapse_when_it_stops(running: Running) -> None:
    admin = running.admin
    [mine] = admin.hold_writes([CATALOG], timeout=30, max_queue=10, holder="catalog/cutover/r3", lease=0.5)
    [other] = admin.hold_writes(["/api/orders"], timeout=30, max_queue=10, holder="orders/cutover/r1")
    listed = admin.holds(holder="catalog/")["holds"]
    assert [(h["id"], h["holder"], h["lease"]) for h in listed] == [(mine, "catalog/cutover/r3", 0.5)]
    for _ in range(3):
        assert admin.renew([mine, "gone"]) == {"renewed": [mine], "ended": ["gone"]}
    wait_for(lambda: admin.holds(holder="catalog/")["holds"] == [], timeout=3)  # no renewal: it lapsed
    assert admin.renew([mine])["ended"] == [mine]
    assert [h["id"] for h in admin.holds()["holds"]] == [other]  # no lease: only its timeout ends it
    admin.release(other)


def test_one_call_sets_the_routes_then_releases_the_holds_and_is_safe_to_repeat(running: Running) -> None:
    admin = running.admin
    fence = admin.hold_writes([CATALOG, "/api/search"], timeout=10, max_queue=10, holder="catalog/cutover/r4")
    _report(admin, "service", fence=fence)
    answered: list[str] = []
    held = threading.Thread(target=lambda: answered.append(_write_goes_to(running.proxy)))
    held.start()
    wait_for(lambda: sum(h["waiting"] for h in admin.get("/holds/local")["holds"]) == 1, timeout=5)
    routes = [
        {"path": CATALOG, "stage": "live", "data": "catalog"},
        {"path": "/api/search", "stage": "off", "data": "catalog"},  # there already: left as it is
    ]
    before = admin.version()
    finished = admin.finish_holds(fence, routes=routes, reason="cutover of catalog finished")
    assert (finished["released"], finished["ended"], finished["changed"]) == (1, [], True)
    assert finished["version"] == before + 1 and finished["waits"]["held"] == 1
    held.join(10)
    assert answered == ["catalog"]  # the held write went on to the new owner
    assert httpx.get(running.proxy.public_url + CATALOG + "/1", timeout=10).json()["upstream"] == "catalog"  # live
    [change] = admin.history(limit=1)["versions"]
    assert (change["author"], change["reason"]) == ("alice", "cutover of catalog finished")
    assert admin.route("/api/search")["stage"] == "off"
    assert admin.holds()["holds"] == []

    again = admin.finish_holds(fence, routes=routes, reason="cutover of catalog finished")  # a lost answer's retry
    assert (again["released"], again["ended"], again["changed"], again["version"]) == (0, fence, False, before + 1)
    assert admin.version() == before + 1


def test_routes_that_cannot_be_set_leave_the_writes_held(running: Running) -> None:
    admin = running.admin
    fence = admin.hold_writes([CATALOG, "/api/search"], timeout=10, max_queue=10, holder="catalog/cutover/r5")
    with pytest.raises(AdminCallFailed) as refused:  # the monolith still owns the data: the gate refuses live
        admin.finish_holds(fence, routes=[{"path": CATALOG, "stage": "live"}], reason="too early")
    assert refused.value.status == 409
    assert sorted(h["id"] for h in admin.holds()["holds"]) == sorted(fence)  # nothing released
    with pytest.raises(AdminCallFailed) as invalid:
        admin.post("/holds/finish", {"ids": fence, "routes": [{"path": "api", "stage": "live"}], "colour": 1})
    assert invalid.value.status == 422
    problems = {p["field"] for p in invalid.value.body["problems"]}
    assert problems == {"routes[0].path", "reason", "colour"}
    unauthorised = httpx.post(running.proxy.admin_url + "/holds/finish", json={"ids": fence, "reason": "x"}, timeout=5)
    assert unauthorised.status_code == 401
    assert admin.finish_holds(fence, reason="released by hand")["released"] == 0
    assert admin.holds()["holds"] == []


def test_a_hold_may_settle_first_and_says_how_long_it_has_held(running: Running) -> None:
    admin = running.admin
    hold = admin.hold(CATALOG, timeout=10, max_queue=10, holder="catalog/cutover/r6", settle=0.5)
    assert 0 <= hold["age_s"] < 0.5  # nothing in flight: held at once, nothing waited for
    admin.release(hold["id"])
    with pytest.raises(AdminCallFailed) as invalid:
        admin.hold(CATALOG, timeout=10, max_queue=10, settle=-1)
    assert invalid.value.status == 422 and invalid.value.body["problems"][0]["field"] == "settle"
