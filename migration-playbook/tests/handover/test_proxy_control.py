"""The engine's proxy seam against a real `strangler proxy`: it reads and moves routes, reports data states, holds
and releases writes, and every kind of refusal becomes the engine's error with the shared exit code.

A stale route-table version and a failing route store cannot be provoked on a real proxy on demand (the client
reads the version right before it writes); their translation is checked on the client's own errors instead.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from strangler_proxy.cli import exit_codes
from strangler_proxy.control.admin_client import AdminCallFailed, AdminClient

from strangler_playbook.errors import Conflict, ConnectError, NotAuthorised, PlaybookError, ProxyRefused, StateError
from strangler_playbook.handover.proxy_control import ProxyAdminControl, translate
from strangler_playbook.handover.proxy_seam import DataState, RouteInfo, WriteHold

from proxy_process import RunningProxy, running_proxy

NAMES = itertools.count(1)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    with running_proxy(tmp_path_factory.mktemp("proxy")) as running:
        with AdminClient(running.admin_url, running.token, author="test setup") as admin:
            admin.set_upstream("catalog", url="http://127.0.0.1:9", reason="the service")
        yield running


@pytest.fixture
def route(proxy: RunningProxy) -> str:
    """A route of its own for each test, declaring a spec of its own (no data report yet)."""
    n = next(NAMES)
    with AdminClient(proxy.admin_url, proxy.token, author="test setup") as admin:
        admin.set_route(f"/api/t{n}", service="catalog", stage="shadow", data=f"spec{n}", reason="a test's route")
    return f"/api/t{n}"


@pytest.fixture
def control(proxy: RunningProxy) -> Iterator[ProxyAdminControl]:
    seam = ProxyAdminControl(proxy.admin_url, proxy.token, author="alice@test")
    yield seam
    seam.close()


def _state(spec: str, *, clean: bool = True) -> DataState:
    return DataState(spec, "syncing", 0.1, clean, "2026-01-01T00:00:00+00:00")


def test_it_reads_a_route_and_moves_it_audited_as_its_author(control: ProxyAdminControl, route: str) -> None:
    spec = f"spec{route.removeprefix('/api/t')}"
    assert control.route(route) == RouteInfo(route, "shadow", 0, spec)
    control.publish_data_state((route,), _state(spec), owner="monolith")
    control.set_stage(route, "canary", percent=25, data=spec, reason="why")
    assert control.route(route) == RouteInfo(route, "canary", 25, spec)
    latest = control.client.history(1)["versions"][0]
    assert (latest["author"], latest["reason"]) == ("alice@test", "why")


def test_a_route_the_proxy_does_not_have_is_refused_naming_the_command_to_add_it(control: ProxyAdminControl) -> None:
    with pytest.raises(StateError) as caught:
        control.route("/api/orders")
    assert caught.value.exit_code == exit_codes.REFUSED
    assert "strangler routes set /api/orders" in caught.value.hint


def test_the_data_gate_refusal_keeps_its_code(control: ProxyAdminControl, route: str) -> None:
    spec = f"spec{route.removeprefix('/api/t')}"
    with pytest.raises(ProxyRefused) as caught:
        control.set_stage(route, "canary", percent=10, data=spec, reason="too early")
    assert caught.value.code == "data_not_ready" and caught.value.exit_code == exit_codes.REFUSED
    assert "strangler data" in caught.value.message


def test_it_publishes_the_data_state_as_the_gate_reads_it(control: ProxyAdminControl, route: str) -> None:
    spec = f"spec{route.removeprefix('/api/t')}"
    control.publish_data_state((route,), _state(spec, clean=False), owner="monolith")
    [state] = [s for s in control.client.data_states()["states"] if s["spec"] == spec]
    assert (state["routes"], state["owner"], state["verify_clean"], state["lag_seconds"]) == (
        [route],
        "monolith",
        False,
        0.1,
    )


@contextlib.contextmanager
def held_write(control: ProxyAdminControl, proxy: RunningProxy, route: str) -> Iterator[list[int]]:
    """A POST to `route` through the proxy, seen waiting in its write hold before the block runs; once the block has
    released the hold, its status is in the yielded list. Nothing answers at the monolith's address: the write fails
    once released (502), but only then."""
    with httpx.Client(base_url=proxy.public_url, timeout=20) as client:
        answered: list[int] = []
        writer = threading.Thread(target=lambda: answered.append(client.post(route + "/x").status_code))
        writer.start()
        deadline = 200
        while not any(h["waiting"] for h in control.client.holds()["holds"]) and deadline:
            deadline -= 1
            writer.join(0.01)
        assert answered == [] and deadline, "the write was never held"
        yield answered
        writer.join(20)


def test_held_writes_wait_until_released_and_a_second_release_finds_nothing(
    control: ProxyAdminControl, proxy: RunningProxy, route: str
) -> None:
    hold = control.hold_writes((route,), max_hold_s=10, max_queue=5, holder="spec0/cutover/r1", lease_s=10)
    assert [h["id"] for h in control.client.holds()["holds"]] == hold.hold_id.split(",")
    with held_write(control, proxy, route) as answered:
        released = control.release_writes(hold, to="monolith")
    assert released.released == 1 and released.waits["held"] == 1
    assert answered == [502]
    assert control.release_writes(hold, to="monolith").released == 0  # released already: not an error
    assert control.client.holds()["holds"] == []


def test_finish_moves_the_routes_then_releases_in_one_call_and_a_second_finds_nothing(
    control: ProxyAdminControl, proxy: RunningProxy, route: str
) -> None:
    spec = f"spec{route.removeprefix('/api/t')}"
    control.publish_data_state((route,), _state(spec), owner="monolith")
    hold = control.hold_writes((route,), max_hold_s=10, max_queue=5, holder=f"{spec}/cutover/r9", lease_s=10)
    stages = {route: ("canary", 30)}
    with held_write(control, proxy, route) as answered:
        released = control.finish(hold, stages=stages, data=spec, reason="cutover done")
    assert (released.released, released.waits["held"], answered) == (1, 1, [502])
    assert control.route(route) == RouteInfo(route, "canary", 30, spec)
    latest = control.client.history(1)["versions"][0]
    assert (latest["author"], latest["reason"]) == ("alice@test", "cutover done")
    again = control.finish(hold, stages=stages, data=spec, reason="cutover done")  # a re-run's: nothing changes
    assert again.released == 0 and control.client.history(1)["versions"][0]["version"] == latest["version"]
    assert control.client.holds()["holds"] == []


def test_holding_several_routes_is_all_or_nothing(control: ProxyAdminControl, route: str) -> None:
    with pytest.raises(ProxyRefused) as caught:
        control.hold_writes((route, "not a path"), max_hold_s=5, max_queue=5, holder="spec0/cutover/r2", lease_s=5)
    assert caught.value.code == "validation_failed" and caught.value.exit_code == exit_codes.REFUSED
    assert control.client.holds()["holds"] == []  # the first route's hold was released, not left to expire
    assert control.release_writes(WriteHold("", (route,), 5), to="monolith").released == 0


def test_a_new_owner_is_accepted_only_under_this_runs_live_hold(control: ProxyAdminControl, route: str) -> None:
    spec = f"spec{route.removeprefix('/api/t')}"
    assert control.data_owner(spec) is None  # no report yet
    control.publish_data_state((route,), _state(spec), owner="monolith")
    with pytest.raises(ProxyRefused) as unfenced:
        control.publish_data_state((route,), _state(spec), owner="service")
    assert unfenced.value.code == "holds_not_in_place" and unfenced.value.exit_code == exit_codes.REFUSED
    hold = control.hold_writes((route,), max_hold_s=10, max_queue=5, holder=f"{spec}/cutover/r1", lease_s=5)
    assert control.renew_writes(hold) is True
    assert control.holds_of(f"{spec}/").ids == hold.ids and control.holds_of("nobody/").ids == []
    control.publish_data_state((route,), _state(spec), owner="service", fence=hold)
    assert control.data_owner(spec) == "service"
    control.release_writes(hold, to="service")
    assert control.renew_writes(hold) is False  # it ended: a renewal says so


def test_a_wrong_token_is_not_authorised(proxy: RunningProxy) -> None:
    with pytest.raises(NotAuthorised) as caught:
        ProxyAdminControl(proxy.admin_url, "not-the-token-" + "y" * 32, author="mallory").route("/api/catalog")
    assert caught.value.exit_code == exit_codes.NOT_AUTHORISED
    assert "STRANGLER_ADMIN_TOKEN" in caught.value.hint


def test_nothing_answering_or_the_public_listener_is_a_dependency_out_of_reach(
    proxy: RunningProxy, tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    for url in (f"http://127.0.0.1:{port}", proxy.public_url):
        with pytest.raises(ConnectError) as caught:
            ProxyAdminControl(url, proxy.token, author="alice").route("/api/catalog")
        assert caught.value.exit_code == exit_codes.UNREACHABLE
        assert "cannot reach the proxy's admin API" in caught.value.message
        assert "STRANGLER_ADMIN_URL" in caught.value.hint


@pytest.mark.parametrize(
    ("status", "code", "error", "exit_code"),
    [
        (409, "stale_version", Conflict, exit_codes.CONFLICT),
        (503, "store_unavailable", ConnectError, exit_codes.UNREACHABLE),
        (403, "forbidden", NotAuthorised, exit_codes.NOT_AUTHORISED),
        (409, "writes_in_flight", ProxyRefused, exit_codes.REFUSED),
    ],
)
def test_answers_a_real_proxy_gives_only_by_chance_translate_with_the_shared_exit_code(
    status: int, code: str, error: type[PlaybookError], exit_code: int
) -> None:
    translated = translate(AdminCallFailed(status, code, "as the proxy said"))
    assert type(translated) is error and translated.exit_code == exit_code
