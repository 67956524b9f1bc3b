"""The handover's state machine against a real `strangler proxy` (SQLite databases; a run to kill runs in a process
of its own): after its commit point a run is finished, never undone; differences found then stop it and say so
until repaired. The kill matrix with writers and a follower is end to end: e2e/test_handover_crash_safety.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from strangler_proxy.control.admin_client import AdminClient

from strangler_playbook.backfill.backfill import run_backfill
from strangler_playbook.cli import data
from strangler_playbook.database.connection import connect
from strangler_playbook.database.context import open_context
from strangler_playbook.errors import DifferencesFound, StateError
from strangler_playbook.handover.cutover import run_cutover
from strangler_playbook.handover.proxy_control import ProxyAdminControl
from strangler_playbook.handover.publish import publish_state
from strangler_playbook.handover.run import HandoverResult, handover_status
from strangler_playbook.spec.spec import Spec, load_spec
from strangler_playbook.verify.verify import run_verify

import catalog_fixture
from proxy_process import RunningProxy, running_proxy

PLAYBOOK = Path(__file__).resolve().parents[2]


@dataclass
class Stack:
    proxy: RunningProxy
    admin: AdminClient
    spec: Spec
    spec_path: Path
    monolith: str
    service: str

    def kill(self, command: str, point: str) -> None:
        """Run `command` in a process of its own and SIGKILL it right after `point` (the operator's dead terminal)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRANGLER_")}
        env.update(STRANGLER_ADMIN_URL=self.proxy.admin_url, STRANGLER_ADMIN_TOKEN=self.proxy.token)
        args = [sys.executable, "-m", "strangler_playbook", command, str(self.spec_path), "--kill-after", point]
        args += ["--lease", "30"]  # its hold outlives it for the hold's timeout (10 s): the next run finds it
        args += ["--source", self.monolith, "--target", self.service]
        done = subprocess.run(args, cwd=PLAYBOOK, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == -9, done.stdout + done.stderr

    def cutover(self) -> HandoverResult:
        control = ProxyAdminControl(self.proxy.admin_url, self.proxy.token, author="test")
        try:
            return run_cutover(self.spec, self.monolith, self.service, control)
        finally:
            control.close()

    def handover(self) -> dict[str, Any]:
        db = connect(self.service, role="target")
        try:
            return handover_status(db, "catalog")
        finally:
            db.close()

    def owner(self) -> str:
        return str((self.admin.data_state("catalog") or {}).get("owner"))


@pytest.fixture
def stack(tmp_path: Path, make_sqlite: Callable[[], str]) -> Iterator[Stack]:
    monolith, service = make_sqlite(), make_sqlite()
    for url in (monolith, service):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(monolith, categories=5, products=50)
    spec_path = catalog_fixture.write_spec(tmp_path)
    spec = load_spec(spec_path)
    with open_context(spec, monolith, service) as ctx:
        run_backfill(ctx)
        run_verify(ctx)
    with running_proxy(tmp_path) as proxy, AdminClient(proxy.admin_url, proxy.token, author="test") as admin:
        admin.set_upstream("catalog", url="http://127.0.0.1:9", reason="the service")
        admin.set_route("/api/catalog", service="catalog", stage="shadow", data="catalog", reason="its data")
        control = ProxyAdminControl(proxy.admin_url, proxy.token, author="test")
        publish_state(spec, monolith, service, control)
        control.close()
        admin.set_stage("/api/catalog", "canary", percent=10, reason="10%")
        yield Stack(proxy, admin, spec, spec_path, monolith, service)


def test_a_run_killed_after_its_commit_is_finished_by_the_next_never_undone(stack: Stack) -> None:
    stack.kill("cutover", "commit")
    assert stack.owner() == "service"
    assert stack.handover() == {
        "owner": "monolith",  # the journal did not learn it: the proxy is the truth
        "op": "cutover",
        "step": "captured",
        "running": False,
        "finish_with": "strangler data cutover SPEC",
        "drift": None,
    }
    control = ProxyAdminControl(stack.proxy.admin_url, stack.proxy.token, author="test")
    with pytest.raises(StateError, match="a cutover stopped at its commit point"):
        publish_state(stack.spec, stack.monolith, stack.service, control)
    control.close()
    finished = stack.cutover()
    # At once: the dead run's hold is still up; this run holds first, then releases it.
    steps = [s["step"] for s in finished.steps]
    assert steps == ["hold", "stale", "drain", "verify", "routes + release", "uncapture"]
    assert "the proxy says the service owns the data" in str(finished.found)
    assert stack.handover()["op"] is None
    assert (stack.admin.route("/api/catalog") or {})["stage"] == "live"


def test_differences_found_after_the_commit_stop_the_run_until_repaired(stack: Stack) -> None:
    stack.kill("cutover", "committed")
    catalog_fixture.execute(stack.monolith, "UPDATE catalog_product SET name = 'foreign write' WHERE id = 7")
    with pytest.raises(DifferencesFound) as stopped:
        stack.cutover()
    assert "the service owns the data of catalog" in stopped.value.message
    assert "strangler data repair" in stopped.value.hint
    handover = stack.handover()
    assert handover["drift"] == {"catalog_product": {"missing": 0, "extra": 0, "different": 1}}
    assert handover["finish_with"] == "strangler data cutover SPEC"
    assert stack.admin.holds()["holds"] == []  # the run let its hold go: writes flow to the service meanwhile
    assert stack.owner() == "service"

    # The repair (another issue's command): the service's row, the owner's, written back over the monolith's.
    [(name,)] = catalog_fixture.fetch(stack.service, "SELECT name FROM catalog_product WHERE id = 7")
    catalog_fixture.execute(stack.monolith, f"UPDATE catalog_product SET name = '{name}' WHERE id = 7")
    assert stack.cutover().outcome == "done"
    assert stack.handover()["op"] is None and stack.handover()["drift"] is None


def test_a_spec_s_hold_routes_are_held_with_its_routes_from_the_hold_to_the_release(stack: Stack) -> None:
    # Placing an order writes the inventory's tables through the monolith: its route is held with the data's.
    spec = replace(stack.spec, hold_routes=("/api/orders/",))
    held: dict[str, list[str]] = {}

    def look(step: str, _detail: str) -> None:
        held[step] = sorted(h["path"] for h in stack.admin.holds()["holds"])

    control = ProxyAdminControl(stack.proxy.admin_url, stack.proxy.token, author="test")
    try:
        result = run_cutover(spec, stack.monolith, stack.service, control, on_step=look)
    finally:
        control.close()

    assert result.outcome == "done" and stack.owner() == "service"
    assert (
        "holding writes to /api/catalog, /api/orders" in next(s for s in result.steps if s["step"] == "hold")["detail"]
    )
    for step in ("hold", "drain", "verify", "capture", "commit"):
        assert held[step] == ["/api/catalog", "/api/orders"], step  # the commit's fence covers both
    assert held["routes + release"] == []  # the routes set and both holds released in one call


def test_the_cli_asks_the_proxy_to_settle_as_long_as_hold_settle_says(stack: Stack) -> None:
    env = {"STRANGLER_ADMIN_URL": stack.proxy.admin_url, "STRANGLER_ADMIN_TOKEN": stack.proxy.token}
    common = [str(stack.spec_path), "--source", stack.monolith, "--target", stack.service, "--json"]
    for command, settle in (("cutover", "0"), ("rollback", "2.5")):
        result = CliRunner().invoke(data, [command, *common, "--hold-settle", settle], env=env)

        assert result.exit_code == 0, result.output
        hold = next(s for s in json.loads(result.stdout)["steps"] if s["step"] == "hold")
        assert f"settle {settle}s;" in hold["detail"], hold
