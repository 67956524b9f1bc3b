"""The one admin-API client, as the CLI and the migration engine use it, against a real admin listener with the
route table's and the cutover's endpoints: reads, audited changes, write holds, data reports, and each error."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from control_plane_helpers import ADMIN_TOKEN, serve_in_thread, wait_for
from strangler_proxy.cli.exit_codes import CONFLICT, NOT_AUTHORISED, REFUSED, UNREACHABLE, exit_code_for
from strangler_proxy.control.admin_client import AdminClient
from strangler_proxy.control.route_endpoints import route_admin_app
from strangler_proxy.control.store import RouteStore
from strangler_proxy.control.table_codec import table_from_dict
from strangler_proxy.control.wiring import attach_cutover
from strangler_proxy.errors import AdminCallFailed, AdminUnreachable
from strangler_proxy.http.asgi import Receive, Scope, Send

pytest_plugins = ("control_plane_fixtures",)

CATALOG = "/api/catalog"
REPORT = {
    "spec": "catalog",
    "routes": [CATALOG],
    "phase": "syncing",
    "owner": "monolith",
    "lag_seconds": 0.1,
    "verify_clean": True,
    "verified_at": "2026-11-25T16:00:00+00:00",
}


class Writes:
    """The public app behind the write hold: it notes each write that reaches it."""

    def __init__(self) -> None:
        self.arrived = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] == "POST":
            self.arrived.set()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


@dataclass
class Admin:
    client: AdminClient
    url: str
    public_url: str
    store: RouteStore
    writes: Writes


@pytest.fixture
def admin(store: RouteStore, store_url: str) -> Iterator[Admin]:
    table = table_from_dict(
        {
            "upstreams": {"monolith": {"url": "http://127.0.0.1:1"}, "catalog": {"url": "http://127.0.0.1:2"}},
            "routes": [{"path": CATALOG, "service": "catalog", "stage": "shadow", "data": "catalog"}],
        }
    )
    store.commit(table, expected_version=0, author="alice", reason="start")
    app = route_admin_app(store, token=ADMIN_TOKEN)
    writes = Writes()
    public = attach_cutover(writes, app, store_url=store_url, route_store=store).public_app
    with serve_in_thread(public, app) as served:
        client = AdminClient(served.admin_url, ADMIN_TOKEN, author="strangler data")
        try:
            yield Admin(client, served.admin_url, served.public_url, store, writes)
        finally:
            client.close()


def test_it_reads_the_table_and_one_route(admin: Admin) -> None:
    assert admin.client.version() == 1
    route = admin.client.route(CATALOG)
    assert route is not None and (route["stage"], route["data"]) == ("shadow", "catalog")
    assert admin.client.route(CATALOG, methods=["GET"]) is None and admin.client.route("/api/none") is None
    assert admin.client.history(5)["versions"][0]["author"] == "alice"
    assert admin.client.table_at(1)["table"]["routes"][0]["path"] == CATALOG


def test_a_stage_change_is_audited_with_its_author_and_gated_by_the_data(admin: Admin) -> None:
    with pytest.raises(AdminCallFailed) as refused:
        admin.client.set_stage(CATALOG, "canary", percent=10, reason="10% of readers")
    assert (refused.value.status, refused.value.code) == (409, "data_not_ready")
    assert exit_code_for(refused.value) == REFUSED and "strangler data" in refused.value.detail

    reported = admin.client.report_data_state(**REPORT)
    assert reported["owner"] == "monolith" and admin.client.data_states()["states"][0]["spec"] == "catalog"
    changed = admin.client.set_stage(CATALOG, "canary", percent=10, reason="10% of readers")
    assert changed["version"] == 2 and changed["diff"] == [f"~ route {CATALOG} -> catalog: shadow -> canary 10%"]
    latest = admin.store.history(limit=1)[0]
    assert (latest.author, latest.reason) == ("strangler data", "10% of readers")


def test_a_change_against_a_version_read_earlier_is_a_conflict(admin: Admin) -> None:
    admin.client.set_route(CATALOG, reason="pin longer", pin_seconds=9)
    with pytest.raises(AdminCallFailed) as stale:
        admin.client.set_route(CATALOG, reason="pin shorter", pin_seconds=1, expected_version=1)
    assert stale.value.code == "stale_version" and exit_code_for(stale.value) == CONFLICT
    assert stale.value.body["current_version"] == 2


def test_writes_are_held_until_released_and_a_second_release_finds_nothing(admin: Admin) -> None:
    [hold_id] = admin.client.hold_writes([CATALOG], timeout=10, max_queue=10, reason="cutover")
    assert [h["id"] for h in admin.client.holds()["holds"]] == [hold_id]
    answered: list[int] = []
    writer = threading.Thread(target=lambda: answered.append(httpx.post(admin.public_url + CATALOG).status_code))
    writer.start()
    wait_for(lambda: admin.client.holds()["holds"][0]["waiting"] == 1, timeout=10)
    assert not admin.writes.arrived.is_set()  # held at the proxy: the app has not seen it
    released = admin.client.release(hold_id)
    writer.join(10)
    assert released is not None and released["released"] == 1 and released["waits"]["held"] == 1
    assert answered == [200] and admin.writes.arrived.is_set()
    assert admin.client.release(hold_id) is None  # released already: not an error


def test_holding_several_paths_is_all_or_nothing(admin: Admin) -> None:
    with pytest.raises(AdminCallFailed) as refused:
        admin.client.hold_writes([CATALOG, "not a path"], timeout=10, max_queue=10)
    assert refused.value.code == "validation_failed"
    assert admin.client.holds()["holds"] == []  # the first path's hold was released, not left to expire


def test_a_wrong_token_is_not_authorised_and_nothing_listening_is_unreachable(admin: Admin) -> None:
    with AdminClient(admin.url, "not-the-token-" + "y" * 32) as wrong, pytest.raises(AdminCallFailed) as refused:
        wrong.routes()
    assert refused.value.status == 401 and exit_code_for(refused.value) == NOT_AUTHORISED
    assert "STRANGLER_ADMIN_TOKEN" in refused.value.detail
    with AdminClient("http://127.0.0.1:9", ADMIN_TOKEN) as nowhere, pytest.raises(AdminUnreachable) as gone:
        nowhere.routes()
    assert exit_code_for(gone.value) == UNREACHABLE
    with AdminClient(admin.public_url, ADMIN_TOKEN) as public, pytest.raises(AdminUnreachable) as not_admin:
        public.routes()
    assert not_admin.value.code == "not_the_admin_api"


def test_from_env_reads_the_url_the_token_and_the_author(admin: Admin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRANGLER_ADMIN_URL", admin.url)
    monkeypatch.setenv("STRANGLER_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.delenv("STRANGLER_ACTOR", raising=False)
    with AdminClient.from_env(author="strangler data") as client:
        assert client.author == "strangler data" and client.version() == 1
    monkeypatch.setenv("STRANGLER_ACTOR", "carol")
    with AdminClient.from_env(author="strangler data") as client:
        assert client.author == "carol"
