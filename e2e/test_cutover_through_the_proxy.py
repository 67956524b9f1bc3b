"""The catalog's cutover and rollback through the real proxy, as an operator runs them (`strangler data ...`):
the data gate refuses canary and live until the data is verified and owned, a failed verify aborts back to the
stage the route had, and a writer hammering the catalog through the proxy the whole time gets no error while the
system of record moves to the service and back — every write it saw acknowledged is where it must be.

Runs after the suite's backfill (the monolith owns the data, forward capture installed) and leaves the monolith
owning it again, with its own proxy (a route that declares `data = "catalog"`), so the other files see no change.
The first test finds the route as the fixture made it (shadow, nothing published); each of the others first brings
the route to the stage it starts from (`_at`), so it also runs alone.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

import data_cli
from databases import sql
from parity import PUBLIC_HOST
from proxy_stack import ADMIN_TOKEN, Proxy, proxy_in_front
from waiting import wait_for

PRODUCTS = "/api/catalog/products/"
PATIENCE = 30.0  # seconds a test waits for the writers on a loaded machine
WRITES_AFTER = 6  # answered writes a test waits for after a command, through the proxy as it is then


@pytest.fixture(scope="module")
def gated_proxy(stack) -> Iterator[Proxy]:
    folder = stack.logs / "cutover-proxy"
    folder.mkdir(exist_ok=True)
    with proxy_in_front(stack.monolith.url, stack.catalog.url, folder) as proxy:
        admin = proxy.admin()
        version = admin.get("/routes").json()["version"]
        declared = admin.post(
            "/routes",
            json={
                "path": "/api/catalog",
                "stage": "shadow",
                "data": "catalog",
                "expected_version": version,
                "reason": "e2e: the catalog route stands on the catalog spec's data",
            },
        )
        assert declared.status_code == 200, declared.text
        yield proxy
        back = data_command("rollback", stack, proxy)  # the monolith owns the data again, whatever a test left
        assert back.returncode == 0, back.stdout + back.stderr


def data_command(
    command: str, stack, proxy: Proxy, *extra: str, admin_url: str | None = None, token: str = ADMIN_TOKEN
) -> subprocess.CompletedProcess[str]:
    return data_cli.data_command(command, stack, admin_url or proxy.admin_url, *extra, token=token)


def _products(url: str) -> dict[int, tuple[str, str]]:
    """id → (sku, price as text with two decimals)."""
    rows = sql(url, "SELECT id, sku, price FROM catalog_product")
    return {int(i): (str(sku), f"{float(price):.2f}") for i, sku, price in rows}


@dataclass
class Writer:
    """Staff writing products through the proxy without pause, on `threads` connections: each creates products and
    changes the prices of its own (so each product's last acknowledged price is well defined)."""

    proxy_url: str
    token: str
    category: int
    tag: str
    threads: int = 3
    acknowledged: dict[int, tuple[str, str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    requests: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, lane: int) -> None:
        headers = {"Host": PUBLIC_HOST, "Authorization": f"Token {self.token}"}
        mine: dict[int, tuple[str, str]] = {}
        with httpx.Client(base_url=self.proxy_url, headers=headers, timeout=30) as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                if n % 3 or not mine:
                    sku = f"CUT-{self.tag}{lane}-{n:05d}"
                    body = {
                        "sku": sku,
                        "name": f"Cutover probe {n}",
                        "slug": sku.lower(),
                        "price": f"{n % 90 + 10}.50",
                        "category": self.category,
                    }
                    answer = client.post(PRODUCTS, json=body)
                    if answer.status_code == 201:
                        mine[answer.json()["id"]] = (sku, body["price"])
                    else:
                        self.failures.append(f"POST {answer.status_code} {answer.text[:200]}")
                else:
                    product_id = list(mine)[n % len(mine)]
                    price = f"{n % 90 + 100}.25"
                    answer = client.patch(f"{PRODUCTS}{product_id}/", json={"price": price})
                    if answer.status_code == 200:
                        mine[product_id] = (mine[product_id][0], price)
                    else:
                        self.failures.append(f"PATCH {answer.status_code} {answer.text[:200]}")
                self.requests += 1
                self.acknowledged.update(mine)

    def __enter__(self) -> Writer:
        self.workers = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(self.threads)]
        for worker in self.workers:
            worker.start()
        deadline = time.monotonic() + 10
        while len(self.acknowledged) < 5:  # under way before the command starts
            assert time.monotonic() < deadline and not self.failures, self.failures
            time.sleep(0.02)
        return self

    def wait_for_more(self, count: int) -> None:
        """Until `count` more writes have been answered (any failure fails at once)."""
        target = self.requests + count
        wait_for(lambda: self.requests >= target or bool(self.failures), f"{count} more writes", PATIENCE)
        assert not self.failures, self.failures

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        for worker in self.workers:
            worker.join(30)


def _writer(stack, proxy: Proxy, tag: str) -> Writer:
    return Writer(proxy.server.url, stack.shop.personas["charlie"].token, stack.shop.categories["kitchen"], tag)


def _held_writes(proxy: Proxy) -> int:
    with proxy.admin() as admin:
        return sum(int(hold["waiting"]) for hold in admin.get("/holds").json()["holds"])


def _at(stack, proxy: Proxy, stage: str) -> None:
    """Bring the catalog's route to `stage` as an operator would, from wherever the tests before left it: `canary`
    with the monolith owning the data (synced, verified and published first), or `live` with the service owning
    it (cut over from canary)."""
    if proxy.stage() == stage:
        return
    if stage == "live":
        _at(stack, proxy, "canary")
        moved = data_command("cutover", stack, proxy)
    elif proxy.stage() == "live":
        moved = data_command("rollback", stack, proxy)  # back to the stage before the cutover: canary
    else:
        for step in ("sync", "verify", "publish"):
            done = data_command(step, stack, proxy)
            assert done.returncode == 0, done.stdout + done.stderr
        assert proxy.set_stage("canary", percent=10).status_code == 200
        return
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert proxy.stage() == stage


def test_the_gate_refuses_canary_and_live_until_the_data_is_verified_and_owned(stack, gated_proxy):
    refused = gated_proxy.set_stage("canary", percent=10)
    assert refused.status_code == 409, refused.text
    error = refused.json()
    assert error["error"] == "data_not_ready"
    assert "strangler data verify" in error["detail"] and "strangler data publish" in error["detail"]
    assert gated_proxy.stage() == "shadow"

    # As the runbook does: catch the sync up (earlier files wrote through their proxies), verify, publish.
    for step in ("sync", "verify", "publish"):
        done = data_command(step, stack, gated_proxy)
        assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["verify_clean"] is True

    assert gated_proxy.set_stage("canary", percent=10).status_code == 200
    refused = gated_proxy.set_stage("live")
    assert refused.status_code == 409 and "strangler data cutover" in refused.json()["detail"]
    assert gated_proxy.stage() == "canary"


def test_a_cutover_without_the_proxy_or_its_token_says_so_and_changes_nothing(stack, gated_proxy):
    before = gated_proxy.stage()
    with socket.socket() as nobody:  # a port of ours that listens to nothing: a connection is refused
        nobody.bind(("127.0.0.1", 0))
        port = nobody.getsockname()[1]
        unreachable = data_command("cutover", stack, gated_proxy, admin_url=f"http://127.0.0.1:{port}")
    assert unreachable.returncode == 3, unreachable.stdout + unreachable.stderr
    assert "cannot reach the proxy's admin API" in json.loads(unreachable.stdout)["error"]
    refused = data_command("cutover", stack, gated_proxy, token="not-the-proxy-token-0123456789abcdef")
    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert "STRANGLER_ADMIN_TOKEN" in json.loads(refused.stdout)["hint"]
    assert gated_proxy.stage() == before
    with gated_proxy.admin() as admin:
        assert admin.get("/holds").json()["holds"] == []
    nothing = data_command("rollback", stack, gated_proxy)  # the monolith owns the data: nothing to roll back
    assert nothing.returncode == 0 and json.loads(nothing.stdout)["outcome"] == "already"


def test_retire_is_refused_while_the_monolith_owns_the_data_and_without_yes(stack, gated_proxy):
    unconfirmed = data_command("retire", stack, gated_proxy)
    assert unconfirmed.returncode == 1 and "--yes" in json.loads(unconfirmed.stdout)["error"]
    refused = data_command("retire", stack, gated_proxy, "--yes")
    assert refused.returncode == 5, refused.stdout + refused.stderr
    assert "strangler data cutover" in json.loads(refused.stdout)["hint"]
    assert _products(stack.monolith_database)  # the monolith's tables are still there


def test_a_cutover_whose_verify_fails_aborts_to_the_previous_stage(stack, gated_proxy):
    _at(stack, gated_proxy, "canary")
    victim, (_sku, price) = next(iter(_products(stack.catalog_database).items()))
    sql(stack.catalog_database, "UPDATE catalog_product SET price = %s WHERE id = %s", ("0.01", victim))
    try:
        result = data_command("cutover", stack, gated_proxy)
    finally:
        sql(stack.catalog_database, "UPDATE catalog_product SET price = %s WHERE id = %s", (price, victim))

    assert result.returncode == 7, result.stdout + result.stderr
    error = json.loads(result.stdout)
    assert "verify found differences" in error["error"] and str(victim) in error["error"]
    assert "released to the monolith" in error["error"]
    assert gated_proxy.stage() == "canary"
    with gated_proxy.admin() as admin:
        assert admin.get("/holds").json()["holds"] == []
    with httpx.Client(base_url=gated_proxy.server.url, headers={"Host": PUBLIC_HOST}, timeout=10) as client:
        token = {"Authorization": f"Token {stack.shop.personas['charlie'].token}"}
        assert client.patch(f"{PRODUCTS}{victim}/", json={"price": price}, headers=token).status_code == 200


def test_a_cutover_failing_before_its_commit_point_changes_nothing_and_loses_no_write(stack, gated_proxy):
    _at(stack, gated_proxy, "canary")
    with _writer(stack, gated_proxy, f"A{stack.engine[:2]}") as writer:
        result = data_command("cutover", stack, gated_proxy, "--fail-after", "captured")
        writer.wait_for_more(WRITES_AFTER)  # writes go on, to the monolith
    assert result.returncode == 7, result.stdout + result.stderr
    error = json.loads(result.stdout)["error"]
    assert "aborted before its commit point" in error and "the monolith owns the data" in error
    assert writer.failures == []
    assert gated_proxy.stage() == "canary"
    in_monolith = _products(stack.monolith_database)
    assert {i: in_monolith.get(i) for i in writer.acknowledged} == writer.acknowledged
    # Forward capture never stopped: what the monolith took reaches the service.
    assert data_command("sync", stack, gated_proxy).returncode == 0
    assert data_command("verify", stack, gated_proxy).returncode == 0


def test_a_cutover_failing_after_its_commit_point_is_finished_by_running_it_again(stack, gated_proxy):
    _at(stack, gated_proxy, "canary")
    with _writer(stack, gated_proxy, f"B{stack.engine[:2]}") as writer:
        failed = data_command("cutover", stack, gated_proxy, "--fail-after", "committed")
        assert failed.returncode == 5, failed.stdout + failed.stderr
        error = json.loads(failed.stdout)
        assert "passed its commit point" in error["error"] and "run the cutover again" in error["hint"]
        assert gated_proxy.stage() == "canary"  # not live yet, but its writes go to the service
        status = json.loads(data_command("status", stack, gated_proxy).stdout)["handover"]
        assert status["op"] == "cutover" and status["finish_with"] == "strangler data cutover SPEC"
        again = data_command("cutover", stack, gated_proxy)
        writer.wait_for_more(WRITES_AFTER)  # writes after the finished cutover, to the service
    assert again.returncode == 0, again.stdout + again.stderr
    assert writer.failures == []
    assert gated_proxy.stage() == "live"
    in_service = _products(stack.catalog_database)
    assert {i: in_service.get(i) for i in writer.acknowledged} == writer.acknowledged
    back = data_command("rollback", stack, gated_proxy)
    assert back.returncode == 0, back.stdout + back.stderr


def test_a_cutover_under_steady_writes_through_the_proxy_fails_no_request(stack, gated_proxy):
    _at(stack, gated_proxy, "canary")
    with _writer(stack, gated_proxy, f"F{stack.engine[:2]}") as writer:
        result = data_command("cutover", stack, gated_proxy)
        writer.wait_for_more(WRITES_AFTER)  # some writes after the release, to the service
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    waits = report["hold_waits"]
    steps = " ".join(f"{s['step']}={s['seconds']}" for s in report["steps"])
    print(
        f"\ncutover ({stack.engine}): {writer.requests} writes, held {report['hold_seconds']}s, waits {waits}; {steps}"
    )
    assert writer.failures == []
    assert report["owner"] == "service" and report["stages"] == {"/api/catalog": "live"}
    assert [s["step"] for s in report["steps"]] == [
        "verify ahead", "capture ahead", "catch up",  # writes still flowing
        "hold", "drain", "verify", "realign", "capture", "commit", "routes + release",  # writes held (one call ends it)
        "uncapture",
    ]  # fmt: skip
    # The hold's breakdown adds up to it: each step and engine cost under it, "other" the rest.
    assert set(report["hold_breakdown"]) >= {"hold", "drain", "verify", "realign", "capture", "commit", "other"}
    assert abs(sum(report["hold_breakdown"].values()) - report["hold_seconds"] * 1000) < 2.0
    # Under the hold only the keys written since the full verify ahead of it are compared.
    verify = next(s for s in report["steps"] if s["step"] == "verify")
    assert "keys that changed since the first verify" in verify["detail"]
    assert gated_proxy.stage() == "live"
    in_service = _products(stack.catalog_database)
    assert {i: in_service.get(i) for i in writer.acknowledged} == writer.acknowledged

    again = data_command("cutover", stack, gated_proxy)
    assert again.returncode == 0 and json.loads(again.stdout)["outcome"] == "already"
    with gated_proxy.admin() as admin:
        audit = admin.get("/history?limit=5").json()["versions"]
    assert audit[0]["author"] == "strangler data" and "cutover catalog" in audit[0]["reason"]


def test_retire_archives_nothing_while_something_else_writes_the_monolith_tables(stack, gated_proxy):
    _at(stack, gated_proxy, "live")
    victim = next(iter(_products(stack.monolith_database)))
    [(price,)] = sql(stack.monolith_database, "SELECT price FROM catalog_product WHERE id = %s", (victim,))
    if stack.engine == "postgresql":
        # The same value written again: no verify can see it, the guard installed at the flip does.
        sql(stack.monolith_database, "UPDATE catalog_product SET price = price WHERE id = %s", (victim,))
        expected = "outside the sync"
    else:
        sql(stack.monolith_database, "UPDATE catalog_product SET price = %s WHERE id = %s", ("0.02", victim))
        expected = "verify found differences"
    try:
        refused = data_command("retire", stack, gated_proxy, "--yes")
    finally:
        if stack.engine == "postgresql":
            sql(stack.monolith_database, "DELETE FROM _strangler_catalog_guard")
        else:
            sql(stack.monolith_database, "UPDATE catalog_product SET price = %s WHERE id = %s", (price, victim))
    assert refused.returncode == 7, refused.stdout + refused.stderr
    error = json.loads(refused.stdout)["error"]
    assert expected in error and "nothing was archived" in error
    assert victim in _products(stack.monolith_database)  # the tables are still there, under their names
    assert gated_proxy.stage() == "live"


def test_a_rollback_from_live_loses_no_write_the_service_took(stack, gated_proxy):
    _at(stack, gated_proxy, "live")
    with _writer(stack, gated_proxy, f"R{stack.engine[:2]}") as writer:
        writer.wait_for_more(WRITES_AFTER)  # writes that only the service has, until the rollback drains them back
        result = data_command("rollback", stack, gated_proxy)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert writer.failures == []
    assert report["owner"] == "monolith" and report["stages"] == {"/api/catalog": "canary"}
    assert gated_proxy.stage() == "canary"
    in_monolith = _products(stack.monolith_database)
    assert {i: in_monolith.get(i) for i in writer.acknowledged} == writer.acknowledged
    # The forward sync resumes from the flip: the service follows the monolith again.
    synced = data_command("sync", stack, gated_proxy)
    assert synced.returncode == 0, synced.stderr
    verified = data_command("verify", stack, gated_proxy)
    assert verified.returncode == 0, verified.stdout


def test_a_cutover_killed_after_its_commit_finishes_when_run_again(stack, gated_proxy):
    _at(stack, gated_proxy, "canary")
    with _writer(stack, gated_proxy, f"K{stack.engine[:2]}") as writer:
        killed = data_command("cutover", stack, gated_proxy, "--kill-after", "committed", "--lease", "20")
        assert killed.returncode == -9, killed.stdout + killed.stderr
        wait_for(
            lambda: _held_writes(gated_proxy) >= writer.threads,
            "every writer held behind the dead run's hold",
            PATIENCE,
        )
        rerun = data_command("cutover", stack, gated_proxy)
        writer.wait_for_more(WRITES_AFTER)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    report = json.loads(rerun.stdout)
    # The dead run's process is gone: the re-run takes over at once, its hold first, then releases the dead one's.
    assert [s["step"] for s in report["steps"]] == [
        "hold", "stale", "drain", "verify", "routes + release", "uncapture",
    ]  # fmt: skip
    assert "stopped after step committed" in report["found"]
    assert writer.failures == []
    assert gated_proxy.stage() == "live"
    in_service = _products(stack.catalog_database)
    assert {i: in_service.get(i) for i in writer.acknowledged} == writer.acknowledged
    with gated_proxy.admin() as admin:
        assert admin.get("/holds").json()["holds"] == []  # the dead run's hold was released too
    back = data_command("rollback", stack, gated_proxy)
    assert back.returncode == 0, back.stdout + back.stderr
