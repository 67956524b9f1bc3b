"""A cutover or rollback killed at any step loses no acknowledged write (issue 17), on PostgreSQL, as an operator
whose terminal dies would meet it: a real proxy, a real `strangler data follow`, staff writers creating, changing
and deleting categories and products through the proxy with a ledger of what it acknowledged.

Each case SIGKILLs `strangler data cutover` or `rollback` at one step boundary of the handover's state machine
(`migration-playbook/src/strangler_playbook/handover/move.py`), then runs the same command again, either at once
("soon": the dead run's hold is still up) or once the dead run's hold has lapsed and the follower resumed and
writes went on without any handover ("late"). Every case ends with: the re-run done, verify clean both ways,
every acknowledged write on both sides (deletes absent), the follower not paused, no hold left, the journal
finished. Leases are 1.5 s here (3 s by default), so the 40 cases take a few minutes.

The cases alternate cutover and rollback, so each starts where the previous one ended; a case that finds the
data elsewhere moves it first, so any case also runs alone.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest
from strangler_playbook.database.connection import connect
from strangler_playbook.database.context import open_context
from strangler_playbook.database.state import read_state
from strangler_playbook.spec.spec import load_spec
from strangler_playbook.sync.status import read_status
from strangler_playbook.verify.verify import run_verify
from strangler_proxy.control.admin_client import AdminClient

from data_cli import data_command, follower
from data_move import SPEC, align_sequences
from parity import PUBLIC_HOST
from proxy_stack import ADMIN_TOKEN, Proxy, proxy_in_front
from waiting import wait_for

# Seconds: a dead run's hold lapses within it (its journal lease is known dead at once: same host). Small, so the
# "late" cases are quick; not so small that a renewal (every third of it) is late on a loaded machine.
LEASE = "1.5"
POINTS = [
    "start",  # before the hold
    "hold",
    "drain:batch",  # during the drain, after a batch it applied
    "verify",
    "captured",  # the new owner's capture installed
    "commit",  # the proxy took the new owner; the journal does not know yet
    "committed",
    "routed",  # the routes changed
    "released",  # the held writes went on to the new owner
    "uncaptured",  # the old owner's capture removed; before the final journal write
]
CASES = [(op, point, wait) for point in POINTS for wait in ("soon", "late") for op in ("cutover", "rollback")]
START = {"cutover": "monolith", "rollback": "service"}
WRITES_BETWEEN = 4  # acknowledged writes that must go through between the phases of a case


@dataclass
class Ledger:
    """What the proxy acknowledged: each row's last state; None once its delete was acknowledged."""

    categories: dict[int, str | None] = field(default_factory=dict)
    products: dict[int, tuple[str, str] | None] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Writers:
    """Staff writing the catalog through the proxy on `lanes` connections; each lane creates, changes and deletes
    its own rows, so the last acknowledged state of each row is well defined."""

    proxy_url: str
    token: str
    tag: str
    ledger: Ledger
    lanes: int = 3
    acknowledged: int = 0
    failures: list[str] = field(default_factory=list)
    longest: float = 0.0  # the longest any write took to be answered, held time included
    stop: threading.Event = field(default_factory=threading.Event)

    def _write(self, client: httpx.Client, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        started = time.monotonic()
        try:
            answer = client.request(method, path, json=body)
        except httpx.HTTPError as exc:  # an unanswered write: whether it happened is unknown, so it fails the case
            self.failures.append(f"{method} {path}: {type(exc).__name__} {exc}")
            return None
        took = time.monotonic() - started
        if answer.status_code >= 300:
            self.failures.append(f"{method} {path}: {answer.status_code} {answer.text[:200]}")
            return None
        self.longest = max(self.longest, took)
        self.acknowledged += 1
        return answer.json() if answer.content else {}

    def run(self, lane: int) -> None:
        headers = {"Host": PUBLIC_HOST, "Authorization": f"Token {self.token}"}
        name = f"crash-{self.tag}-{lane}"
        ledger = self.ledger
        with httpx.Client(base_url=self.proxy_url, headers=headers, timeout=60) as client:
            home = self._write(client, "POST", "/api/catalog/categories/", {"name": name, "slug": name})
            if home is None:
                return
            with ledger.lock:
                ledger.categories[home["id"]] = name
            products: list[int] = []
            spare: int | None = None  # a category of this lane without products: renamed, then deleted
            n = 0
            while not self.stop.is_set():
                n += 1
                step = n % 8
                if step in (1, 2, 3) or len(products) < 3:
                    sku = f"X{self.tag}{lane}-{n:05d}"
                    body = {"sku": sku, "name": f"Crash {n}", "slug": sku.lower(), "price": f"{n % 90 + 10}.50"}
                    made = self._write(client, "POST", "/api/catalog/products/", {**body, "category": home["id"]})
                    if made is not None:
                        products.append(made["id"])
                        with ledger.lock:
                            ledger.products[made["id"]] = (body["name"], body["price"])
                elif step in (4, 5):
                    product = products[n % len(products)]
                    change = {"name": f"Crash {n} renamed", "price": f"{n % 90 + 100}.25"}
                    if self._write(client, "PATCH", f"/api/catalog/products/{product}/", change) is not None:
                        with ledger.lock:
                            ledger.products[product] = (change["name"], change["price"])
                elif step == 6:
                    product = products.pop(0)
                    if self._write(client, "DELETE", f"/api/catalog/products/{product}/") is not None:
                        with ledger.lock:
                            ledger.products[product] = None
                elif spare is None:
                    slug = f"{name}-spare-{n}"
                    made = self._write(client, "POST", "/api/catalog/categories/", {"name": slug, "slug": slug})
                    if made is not None:
                        spare = made["id"]
                        with ledger.lock:
                            ledger.categories[spare] = slug
                elif n % 16 == 7:
                    renamed = f"{name}-spare-{n}-renamed"
                    if self._write(client, "PATCH", f"/api/catalog/categories/{spare}/", {"name": renamed}) is not None:
                        with ledger.lock:
                            ledger.categories[spare] = renamed
                elif self._write(client, "DELETE", f"/api/catalog/categories/{spare}/") is not None:
                    with ledger.lock:
                        ledger.categories[spare] = None
                    spare = None

    def __enter__(self) -> Writers:
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(self.lanes)]
        for thread in self.threads:
            thread.start()
        self.wait_for_more(WRITES_BETWEEN)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(90)

    def wait_for_more(self, count: int) -> None:
        target = self.acknowledged + count
        wait_for(lambda: self.acknowledged >= target or bool(self.failures), "writes acknowledged", 30)
        assert not self.failures, self.failures


@dataclass
class Crash:
    stack: Any
    proxy: Proxy
    admin: AdminClient
    follower_log: Any
    ledger: Ledger = field(default_factory=Ledger)
    longest: dict[str, float] = field(default_factory=dict)

    def data(self, command: str, *extra: str) -> Any:
        return data_command(command, self.stack, self.proxy.admin_url, *extra)

    def owner(self) -> str:
        state = self.admin.data_state("catalog")
        return str(state["owner"]) if state else "monolith"

    def service_state(self, name: str) -> Any:
        db = connect(self.stack.catalog_database, role="target")
        try:
            return read_state(db, name)
        finally:
            db.close()


@pytest.fixture(scope="module")
def crash(stack) -> Iterator[Crash]:
    if stack.engine != "postgresql":
        pytest.skip("the crash matrix runs on PostgreSQL")
    folder = stack.logs / "crash"
    folder.mkdir(exist_ok=True)
    with (
        proxy_in_front(stack.monolith.url, stack.catalog.url, folder) as proxy,
        AdminClient(proxy.admin_url, ADMIN_TOKEN, author="e2e crash matrix") as admin,
    ):
        admin.set_stage("/api/catalog", "shadow", data="catalog", reason="the catalog route stands on its data")
        crash = Crash(stack, proxy, admin, folder / "follower.log")
        for command in ("sync", "verify", "publish"):  # the runbook's way to canary
            done = crash.data(command)
            assert done.returncode == 0, done.stdout + done.stderr
        admin.set_stage("/api/catalog", "canary", percent=10, reason="verified: 10% of readers")
        with follower(stack, crash.follower_log):
            yield crash
            if crash.owner() == "service":  # the other files expect the monolith to own the catalog
                back = crash.data("rollback", "--lease", LEASE)
                assert back.returncode == 0, back.stdout + back.stderr
    # ...and the service's id sequences where the monolith's are (the last writes went to the monolith).
    align_sequences(stack.monolith_database, stack.catalog_database)
    if crash.longest:
        worst = max(crash.longest, key=crash.longest.__getitem__)
        print(f"\ncrash matrix: the longest a write took to be acknowledged: {crash.longest[worst]:.3f}s ({worst})")


def _writers(crash: Crash, tag: str) -> Writers:
    return Writers(crash.proxy.server.url, crash.stack.shop.personas["charlie"].token, tag, crash.ledger)


def _follower_following(crash: Crash) -> bool:
    beat = crash.service_state("catalog/follower") or {}
    return not beat.get("paused", True) and time.time() - float(beat.get("at", 0)) < 2


def _caught_up(crash: Crash) -> bool:
    """The follower applied every change of the direction the data flows now."""
    spec = load_spec(SPEC)
    monolith, service = crash.stack.monolith_database, crash.stack.catalog_database
    reverse = crash.owner() == "service"
    source, target = (service, monolith) if reverse else (monolith, service)
    with open_context(spec, source, target, reverse=reverse) as ctx:
        return read_status(ctx)["sync"]["pending_changes"] == 0


def _verify_both_ways(crash: Crash) -> None:
    spec = load_spec(SPEC)
    monolith, service = crash.stack.monolith_database, crash.stack.catalog_database
    for source, target, reverse in ((monolith, service, False), (service, monolith, True)):
        with open_context(spec, source, target, reverse=reverse) as ctx:
            report = run_verify(ctx, record=False)
        assert report.clean, report.as_dict()


def _rows(url: str, ledger: Ledger) -> tuple[dict[int, str], dict[int, tuple[str, str]]]:
    with psycopg.connect(url) as conn:
        categories = conn.execute(
            "SELECT id, name FROM catalog_category WHERE id = ANY(%s)", (list(ledger.categories),)
        ).fetchall()
        products = conn.execute(
            "SELECT id, name, price FROM catalog_product WHERE id = ANY(%s)", (list(ledger.products),)
        ).fetchall()
    return {i: n for i, n in categories}, {i: (n, f"{p:.2f}") for i, n, p in products}


def _every_acknowledged_write_on_both_sides(crash: Crash) -> None:
    ledger = crash.ledger
    for side, url in (("monolith", crash.stack.monolith_database), ("service", crash.stack.catalog_database)):
        categories, products = _rows(url, ledger)
        wrong_categories = {
            i: (want, categories.get(i)) for i, want in ledger.categories.items() if categories.get(i) != want
        }
        wrong_products = {i: (want, products.get(i)) for i, want in ledger.products.items() if products.get(i) != want}
        assert wrong_categories == {} and wrong_products == {}, f"the {side} lost acknowledged writes"


def _move_to(crash: Crash, owner: str) -> None:
    """A case starts with the data where its command moves it from; run the other command first if need be."""
    if crash.owner() != owner:
        op = "cutover" if owner == "service" else "rollback"
        moved = crash.data(op, "--lease", LEASE)
        assert moved.returncode == 0, moved.stdout + moved.stderr


@pytest.mark.parametrize(("op", "point", "wait"), CASES, ids=[f"{o}-killed-after-{p}-rerun-{w}" for o, p, w in CASES])
def test_a_handover_killed_at_a_step_loses_no_acknowledged_write(crash: Crash, op: str, point: str, wait: str) -> None:
    _move_to(crash, START[op])
    goal = "service" if op == "cutover" else "monolith"
    with _writers(crash, f"{op[0]}{POINTS.index(point)}{wait[0]}") as writers:
        killed = crash.data(op, "--kill-after", point, "--lease", LEASE)
        assert killed.returncode == -9, killed.stdout + killed.stderr
        if wait == "late":
            # Nothing runs the handover now: the dead run's hold lapses, the follower resumes, writes go on.
            wait_for(lambda: crash.admin.holds(holder="catalog/")["holds"] == [], "the dead run's hold to lapse", 10)
            wait_for(lambda: _follower_following(crash), "the follower to resume", 10)
            writers.wait_for_more(WRITES_BETWEEN)
        rerun = crash.data(op, "--lease", LEASE)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert crash.owner() == goal
        writers.wait_for_more(WRITES_BETWEEN)
    assert writers.failures == []
    steps = " ".join(s["step"] for s in json.loads(rerun.stdout)["steps"])
    print(f"\n{op} killed after {point}, re-run {wait}: {steps}; writes waited at most {writers.longest:.3f}s")
    crash.longest[f"{op} killed after {point}, re-run {wait}"] = writers.longest

    assert crash.admin.holds()["holds"] == []
    journal = crash.service_state("catalog/handover")
    assert journal["op"] is None and journal["owner"] == goal and "holds" not in journal
    wait_for(lambda: _follower_following(crash), "the follower to follow", 10)
    wait_for(lambda: _caught_up(crash), "the follower to catch up", 20)
    _verify_both_ways(crash)
    _every_acknowledged_write_on_both_sides(crash)
