"""Two `strangler proxy` processes on one PostgreSQL store behave as one proxy: a write hold taken through either
is acknowledged by both before it is in place, an owner change under it reaches both, a replica killed or frozen
during a hold lets no write through, and a replica that cannot see the store fences itself."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from control_plane_helpers import (
    ADMIN_TOKEN,
    ProxyProcess,
    proxy_process,
    scratch_database,
    upstream_server,
    wait_for,
)
from strangler_proxy.control.admin_client import AdminClient
from tcp_relay import TcpRelay

CATALOG = "/api/catalog"
# Shorter than the defaults (0.1, 1, 3) so a dead replica is given up quickly; the fence still allows a round to
# take most of a second on a busy machine before a replica refuses writes.
TIMEOUTS = {
    "STRANGLER_REPLICA_HEARTBEAT": "0.1",
    "STRANGLER_REPLICA_FENCE_AFTER": "1.0",
    "STRANGLER_REPLICA_DEAD_AFTER": "2.0",
}


@dataclass
class Recorder:
    """An upstream that answers every request with its name and records when each write arrived."""

    name: str
    url: str = ""
    writes: list[float] = field(default_factory=list)

    def writes_between(self, start: float, end: float) -> int:
        return sum(1 for t in list(self.writes) if start <= t <= end)

    def saw(self, request: BaseHTTPRequestHandler) -> None:
        if request.command != "GET":
            self.writes.append(time.monotonic())


@contextmanager
def recording_upstream(name: str) -> Iterator[Recorder]:
    recorder = Recorder(name)
    with upstream_server(name, on_request=recorder.saw, keep_alive=True) as url:
        recorder.url = url
        yield recorder


@dataclass
class Answer:
    sent: float
    done: float
    status: int  # 0: no answer (connection refused or reset)
    upstream: str | None


class Writer:
    """POSTs to one replica, one after another, until stopped; keeps every answer."""

    def __init__(self, public_url: str) -> None:
        self.url = public_url + CATALOG + "/products/"
        self.answers: list[Answer] = []
        self.pending_since: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                sent = self.pending_since = time.monotonic()
                try:
                    response = client.post(self.url, json={"name": "x"})
                    upstream = response.json().get("upstream") if response.status_code == 200 else None
                    status = response.status_code
                except httpx.HTTPError:
                    status, upstream = 0, None
                self.pending_since = None
                self.answers.append(Answer(sent, time.monotonic(), status, upstream))
                if status == 0:
                    self._stop.wait(0.05)  # a dead replica refuses at once: do not spin

    def held(self, at_least: float = 0.3) -> bool:
        """Its request has waited `at_least` seconds (the upstream answers in milliseconds): it is being held."""
        pending = self.pending_since
        return pending is not None and time.monotonic() - pending >= at_least

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(40)


@dataclass
class Pair:
    a: ProxyProcess
    b: ProxyProcess
    admin: AdminClient  # replica a's admin API
    monolith: Recorder
    catalog: Recorder
    database: str


def start_replica(stack: ExitStack, name: str, store: str, monolith: str, *, compare: bool = False) -> ProxyProcess:
    return stack.enter_context(
        proxy_process(
            STRANGLER_ROUTE_STORE=store,
            STRANGLER_MONOLITH_URL=monolith,
            STRANGLER_REPLICA_ID=name,
            STRANGLER_LOG_LEVEL="warning",
            STRANGLER_COMPARE="1" if compare else "0",
            **TIMEOUTS,
        )
    )


@contextmanager
def pair(*, b_store: str | None = None, compare: bool = False) -> Iterator[Pair]:
    with ExitStack() as stack:
        database = stack.enter_context(scratch_database("strangler_replicas"))
        monolith = stack.enter_context(recording_upstream("monolith"))
        catalog = stack.enter_context(recording_upstream("catalog"))
        a = start_replica(stack, "a", database, monolith.url, compare=compare)
        admin = stack.enter_context(AdminClient(a.admin_url, ADMIN_TOKEN, author="alice"))
        admin.set_upstream("catalog", url=catalog.url, reason="the service")
        admin.set_route(CATALOG, service="catalog", stage="shadow", data="catalog", reason="stands on its data")
        report(admin, "monolith")
        b = start_replica(stack, "b", b_store or database, monolith.url, compare=compare)
        wait_for(lambda: live_replicas(admin) == ["a", "b"], 10)
        yield Pair(a, b, admin, monolith, catalog, database)


def report(admin: AdminClient, owner: str, fence: list[str] | None = None) -> None:
    admin.report_data_state(
        spec="catalog",
        routes=[CATALOG],
        phase="syncing",
        owner=owner,
        lag_seconds=0.0,
        verify_clean=True,
        verified_at=None,
        fence=fence,
    )


def live_replicas(admin: AdminClient) -> list[str]:
    return [r["replica"] for r in admin.holds().get("replicas", []) if r["live"]]


def post(proxy: ProxyProcess, path: str = CATALOG + "/products/") -> httpx.Response:
    return httpx.post(proxy.public_url + path, json={}, timeout=10)


def test_a_cutover_under_writers_on_both_replicas_lets_no_write_through_and_fails_none() -> None:
    with pair() as p:
        writers = [Writer(p.a.public_url), Writer(p.b.public_url)]
        try:
            wait_for(lambda: all(w.answers for w in writers), 10)
            ids = p.admin.hold_writes([CATALOG], timeout=10, max_queue=1000, reason="cutover", holder="catalog/t")
            in_place = time.monotonic()
            # Each replica holds a write.
            wait_for(lambda: all(w.held() for w in writers), 5)
            report(p.admin, "service", fence=ids)
            released_at = time.monotonic()
            p.admin.release(ids[0])
            wait_for(lambda: all(any(a.sent > released_at for a in w.answers) for w in writers), 10)
        finally:
            for w in writers:
                w.stop()
        assert p.monolith.writes_between(in_place, released_at) == 0
        assert p.catalog.writes_between(in_place, released_at) == 0
        answers = [a for w in writers for a in w.answers]
        assert [a for a in answers if a.status != 200] == []
        # Held on both replicas, the writes went to the new owner: each replica read it before letting them go.
        for w in writers:
            after = [a.upstream for a in w.answers if a.done > released_at]
            assert after and set(after) == {"catalog"}, after


def test_the_hold_is_in_place_only_once_both_replicas_acknowledged_it() -> None:
    with pair() as p:
        p.admin.hold_writes([CATALOG], timeout=5, max_queue=10, reason="r", holder="catalog/t")
        # Replica b holds it too: a write sent to b waits, and none reaches an upstream.
        answer: list[int] = []
        thread = threading.Thread(target=lambda: answer.append(post(p.b).status_code), daemon=True)
        before = len(p.monolith.writes)
        thread.start()
        wait_for(lambda: any(h["waiting"] for h in holds_on(p.b)), 5)
        assert len(p.monolith.writes) == before and not answer
        held = p.admin.holds("catalog/")["holds"]
        assert [(h["path"], h["waiting"]) for h in held] == [(CATALOG, 0)]  # each replica counts its own waiting
        with AdminClient(p.b.admin_url, ADMIN_TOKEN, author="alice") as on_b:
            assert [(h["path"], h["waiting"]) for h in on_b.holds("catalog/")["holds"]] == [(CATALOG, 1)]
        p.admin.release(held[0]["id"])
        thread.join(10)
        assert answer == [200]


def holds_on(proxy: ProxyProcess) -> list[dict[str, Any]]:
    """The holds replica `proxy` holds locally, with its own waiting count (from its metrics-free debug view)."""
    with AdminClient(proxy.admin_url, ADMIN_TOKEN, author="alice") as admin:
        return list(admin.get("/holds/local")["holds"])


def test_killing_a_replica_during_a_hold_lets_no_write_through_and_the_next_hold_does_not_wait_for_it() -> None:
    with pair() as p:
        writer = Writer(p.a.public_url)
        try:
            ids = p.admin.hold_writes([CATALOG], timeout=10, max_queue=1000, reason="cutover", holder="catalog/t")
            in_place = time.monotonic()
            p.b.process.send_signal(signal.SIGKILL)
            p.b.process.wait(5)
            wait_for(writer.held, 5)
            wait_for(lambda: live_replicas(p.admin) == ["a"], 10)
            assert writer.held()  # still held on a, with b gone
            report(p.admin, "service", fence=ids)
            released_at = time.monotonic()
            p.admin.release(ids[0])
            wait_for(lambda: any(a.sent > released_at for a in writer.answers), 10)
            # The next hold does not wait for the dead replica (it would never acknowledge: 409 at the timeout).
            more = p.admin.hold_writes([CATALOG], timeout=5, max_queue=10, reason="again", holder="catalog/t2")
            p.admin.release(more[0])
        finally:
            writer.stop()
        assert p.monolith.writes_between(in_place, released_at) == 0
        assert p.catalog.writes_between(in_place, released_at) == 0
        assert [a for a in writer.answers if a.status != 200] == []


def test_a_replica_frozen_through_a_hold_refuses_or_holds_its_writes_when_it_wakes() -> None:
    with pair() as p:
        p.b.process.send_signal(signal.SIGSTOP)
        try:
            wait_for(lambda: live_replicas(p.admin) == ["a"], 10)
            ids = p.admin.hold_writes([CATALOG], timeout=10, max_queue=100, reason="cutover", holder="catalog/t")
            in_place = time.monotonic()
            answer: list[httpx.Response] = []
            thread = threading.Thread(target=lambda: answer.append(post(p.b)), daemon=True)
            thread.start()
            wait_for(lambda: accept_queue(p.b) >= 1, 10)  # the kernel took the connection; b has not run
        finally:
            p.b.process.send_signal(signal.SIGCONT)
        thread.join(10)
        now = time.monotonic()
        assert p.monolith.writes_between(in_place, now) + p.catalog.writes_between(in_place, now) == 0
        assert answer and answer[0].status_code in (200, 503)
        if answer[0].status_code == 503:
            assert answer[0].json()["error"] == "store_fenced" and answer[0].headers["retry-after"] == "1"
        p.admin.release(ids[0])


def accept_queue(proxy: ProxyProcess) -> int:
    """Connections waiting in the replica's listen queue (`ss`: Recv-Q of a listening socket)."""
    port = urlsplit(proxy.public_url).port
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    return sum(int(line.split()[1]) for line in out.splitlines() if line.strip())


def test_a_replica_that_loses_the_store_refuses_data_writes_until_it_sees_it_again() -> None:
    server = os.environ.get("STRANGLER_TEST_POSTGRES")
    if not server:
        pytest.skip("PostgreSQL test: set STRANGLER_TEST_POSTGRES")
    with ExitStack() as stack:
        database = stack.enter_context(scratch_database("strangler_replicas"))
        parts = urlsplit(database)
        relay = TcpRelay(parts.hostname or "127.0.0.1", parts.port or 5432)
        stack.callback(relay.close)
        through_relay = database.replace(f"{parts.hostname}:{parts.port or 5432}", f"127.0.0.1:{relay.port}", 1)
        monolith = stack.enter_context(recording_upstream("monolith"))
        catalog = stack.enter_context(recording_upstream("catalog"))
        a = start_replica(stack, "a", database, monolith.url)
        admin = stack.enter_context(AdminClient(a.admin_url, ADMIN_TOKEN, author="alice"))
        admin.set_upstream("catalog", url=catalog.url, reason="the service")
        admin.set_route(CATALOG, service="catalog", stage="shadow", data="catalog", reason="stands on its data")
        report(admin, "monolith")
        b = start_replica(stack, "b", through_relay, monolith.url)
        wait_for(lambda: post(b).status_code == 200, 10)

        relay.cut()
        wait_for(lambda: post(b).status_code == 503, 10)
        before = len(monolith.writes) + len(catalog.writes)
        refused = post(b)
        assert refused.status_code == 503
        assert refused.json()["error"] == "store_fenced" and refused.headers["retry-after"] == "1"
        assert len(monolith.writes) + len(catalog.writes) == before  # nothing was forwarded
        assert httpx.get(b.public_url + CATALOG + "/products/", timeout=10).status_code == 200  # reads go on
        assert post(b, "/api/orders/").status_code == 200  # a route with no data of a spec is not fenced
        assert post(a).status_code == 200  # the other replica sees the store

        relay.restore()
        wait_for(lambda: post(b).status_code == 200, 15)


def test_workers_are_replicas_on_one_port_that_hold_as_one() -> None:
    with ExitStack() as stack:
        database = stack.enter_context(scratch_database("strangler_replicas"))
        monolith = stack.enter_context(recording_upstream("monolith"))
        catalog = stack.enter_context(recording_upstream("catalog"))
        proxy = stack.enter_context(
            proxy_process(
                STRANGLER_ROUTE_STORE=database,
                STRANGLER_MONOLITH_URL=monolith.url,
                STRANGLER_REPLICA_ID="web",
                STRANGLER_WORKERS="2",
                STRANGLER_COMPARE="0",
                **TIMEOUTS,
            )
        )
        admin = stack.enter_context(AdminClient(proxy.admin_url, ADMIN_TOKEN, author="alice"))
        wait_for(lambda: live_replicas(admin) == ["web/0", "web/1"], 20)
        admin.set_upstream("catalog", url=catalog.url, reason="the service")
        admin.set_route(CATALOG, service="catalog", stage="shadow", data="catalog", reason="stands on its data")
        ids = admin.hold_writes([CATALOG], timeout=10, max_queue=100, reason="cutover", holder="catalog/t")
        in_place = time.monotonic()
        writers = [Writer(proxy.public_url) for _ in range(6)]  # a connection each: the kernel spreads them
        try:
            wait_for(lambda: all(w.held() for w in writers), 5)
            released_at = time.monotonic()
            admin.release(ids[0])
            wait_for(lambda: all(any(a.sent > released_at for a in w.answers) for w in writers), 10)
        finally:
            for w in writers:
                w.stop()
        assert monolith.writes_between(in_place, released_at) == 0
        assert [a for w in writers for a in w.answers if a.status != 200] == []


def test_a_client_that_writes_through_one_replica_reads_its_write_through_the_other_during_canary() -> None:
    with pair() as p:
        p.admin.set_route(
            CATALOG,
            stage="canary",
            percent=100,
            sticky={"kind": "header", "name": "X-Client"},
            reason="every reader to the service, sticky by X-Client",
        )
        wait_for(lambda: reads_from(p.b) == "catalog", 10)  # b has the canary: this client's reads go to the service
        assert reads_from(p.a) == "catalog"
        wrote = httpx.post(p.a.public_url + CATALOG + "/products/", json={}, headers={"X-Client": "alice"}, timeout=10)
        assert wrote.json()["upstream"] == "monolith"  # the monolith owns the data: the write goes there
        # Through the other replica, the client reads where it wrote, not from a service the sync has not reached.
        assert reads_from(p.b) == "monolith"
        assert reads_from(p.a) == "monolith"
        assert reads_from(p.b, client="bob") == "catalog"  # another client is not pinned


def reads_from(proxy: ProxyProcess, client: str = "alice") -> str:
    answer = httpx.get(proxy.public_url + CATALOG + "/products/", headers={"X-Client": client}, timeout=10)
    return str(answer.json()["upstream"])


def test_a_gate_judges_the_samples_of_both_replicas_together() -> None:
    with pair(compare=True) as p:
        gate = {"shadow_monolith": True, "noise_sample": 0.0, "gate_min_samples": 20, "gate_max_diff_rate": 0.5}
        p.admin.set_route(CATALOG, stage="canary", percent=100, compare=gate, reason="a gate on 20 samples")
        wait_for(lambda: reads_from(p.a) == "catalog" and reads_from(p.b) == "catalog", 10)
        for i in range(8):
            reads_from(p.a, client=f"a{i}")
        wait_for(lambda: compared(p.a) >= 8, 10)
        assert compared(p.a) + compared(p.b) < 20
        assert stage(p.admin) == "canary"  # fewer samples than the gate needs, even together
        for i in range(12):
            reads_from(p.b, client=f"b{i}")
        # Every answer differs (the service names itself). Neither replica compared 20, together they did: the gate
        # of one of them, holding the other's samples too, rolls the route back one stage.
        assert compared(p.a) < 20
        wait_for(lambda: stage(p.admin) == "shadow", 15)
        firing = p.admin.get("/gates")["firings"][0]
        assert firing["outcome"] == "rolled_back" and firing["samples"] >= 20
        assert max(compared(p.a), compared(p.b)) < 20


def compared(proxy: ProxyProcess) -> int:
    with AdminClient(proxy.admin_url, ADMIN_TOKEN, author="alice") as admin:
        return int(admin.compare()["routes"].get(CATALOG, {}).get("compared", 0))


def stage(admin: AdminClient) -> str:
    return str(admin.route(CATALOG)["stage"])
