"""Gates decide on enough samples only, and roll a route back one stage through the route store, audited."""

from __future__ import annotations

from typing import Any

import pytest
from strangler_proxy.compare.gates import Gates, Sample, Verdict
from strangler_proxy.control.data_state import DataGate, open_data_states, state_from_dict
from strangler_proxy.control.route_changes import GATE_AUTHOR, roll_back_one_stage
from strangler_proxy.control.store import open_store
from strangler_proxy.control.table_codec import table_from_dict
from strangler_proxy.dataplane.model import CompareSettings, Route, Stage

pytest_plugins = ["compare_fixtures"]

GOOD = Sample(net_diff=False, service_5xx=False, monolith_seconds=0.010, service_seconds=0.011)
DIFFERS = Sample(net_diff=True, service_5xx=False, monolith_seconds=0.010, service_seconds=0.011)
FAILS = Sample(net_diff=False, service_5xx=True, monolith_seconds=0.010, service_seconds=0.011)
SLOW = Sample(net_diff=False, service_5xx=False, monolith_seconds=0.010, service_seconds=0.050)


def canary(**compare: Any) -> Route:
    return Route("/api/catalog", "catalog", Stage.CANARY, percent=25, compare=CompareSettings(**compare))


def test_a_gate_never_fires_on_fewer_samples_than_its_minimum() -> None:
    gates = Gates()
    route = canary(gate_min_samples=10, gate_window=10)
    assert [gates.observe(route, 1, DIFFERS) for _ in range(9)] == [None] * 9
    verdict = gates.observe(route, 1, DIFFERS)
    assert verdict is not None and verdict.fires and verdict.samples == 10
    assert verdict.reasons == ("net diff rate 100.0% > 1.0%",)
    assert gates.observe(route, 1, DIFFERS) is None  # the window restarts after firing


@pytest.mark.parametrize(
    ("bad", "words"),
    [(FAILS, "service 5xx rate 20.0% > 1.0%"), (SLOW, "service p99 50.0 ms is 5.00x the monolith's 10.0 ms > 2x")],
)
def test_each_bound_fires_the_gate_and_says_why(bad: Sample, words: str) -> None:
    gates = Gates()
    route = canary(gate_min_samples=10, gate_window=10, gate_max_p99_ratio=2.0)
    verdicts = [gates.observe(route, 1, bad if i % 5 == 0 else GOOD) for i in range(10)]
    assert verdicts[:9] == [None] * 9
    assert verdicts[9] is not None and words in verdicts[9].reasons[0]


def test_a_healthy_route_and_a_route_with_its_gate_off_never_fire() -> None:
    gates = Gates()
    assert all(gates.observe(canary(gate_min_samples=5, gate_window=5), 1, GOOD) is None for _ in range(50))
    off = canary(gate=False, gate_min_samples=5, gate_window=5)
    assert all(gates.observe(off, 1, DIFFERS) is None for _ in range(50))
    shadow = Route("/api/catalog", "catalog", Stage.SHADOW, compare=CompareSettings(gate_min_samples=5, gate_window=5))
    assert all(gates.observe(shadow, 1, DIFFERS) is None for _ in range(50))


def test_a_new_revision_of_the_route_starts_a_fresh_window_even_in_the_same_stage() -> None:
    gates = Gates()
    route = canary(gate_min_samples=10, gate_window=10)
    for _ in range(9):
        gates.observe(route, 1, DIFFERS)
    assert gates.observe(route, 2, DIFFERS) is None  # canary 25% again, but another revision: 1 sample, not 10
    assert gates.status()["/api/catalog"] == {"stage": "canary 25%", "revision": 2, "samples": 1}


def test_a_stage_change_starts_a_fresh_window() -> None:
    gates = Gates()
    settings = {"gate_min_samples": 10, "gate_window": 10}
    for _ in range(9):
        gates.observe(canary(**settings), 1, DIFFERS)
    wider = Route("/api/catalog", "catalog", Stage.CANARY, percent=50, compare=CompareSettings(**settings))
    assert gates.observe(wider, 2, DIFFERS) is None


VERDICT = Verdict(20, 0.5, 0.0, 1.0, ("net diff rate 50.0% > 1.0%",))


def table(stage: str, percent: int = 0) -> Any:
    return table_from_dict(
        {
            "upstreams": {"monolith": "http://127.0.0.1:8000", "catalog": "http://127.0.0.1:8001"},
            "routes": [{"path": "/api/catalog", "service": "catalog", "stage": stage, "percent": percent}],
        }
    )


def test_a_firing_gate_rolls_a_canary_back_to_shadow_and_says_why_in_the_audit_log(db_url: str) -> None:
    store = open_store(db_url)
    store.commit(table("canary", 25), expected_version=0, author="alice@test", reason="canary 25%")
    (route,) = store.load().table.routes
    outcome = roll_back_one_stage(store, route, VERDICT)
    assert outcome.action == "rolled_back" and outcome.table is not None and outcome.table.version == 2
    assert outcome.detail == "canary 25% -> shadow (version 2)"
    (after,) = store.load().table.routes
    assert (after.stage, after.percent) == (Stage.SHADOW, 0)
    latest = store.history(limit=1)[0]
    assert latest.author == GATE_AUTHOR
    assert latest.reason == (
        "gate: net diff rate 50.0% > 1.0% over the last 20 compared requests; canary 25% -> shadow"
    )
    assert "canary 25% -> shadow" in latest.summary
    store.close()


def test_a_firing_gate_rolls_a_live_route_back_to_its_last_canary_share(db_url: str) -> None:
    store = open_store(db_url)
    store.commit(table("canary", 40), expected_version=0, author="alice@test", reason="canary")
    store.commit(table("live"), expected_version=1, author="alice@test", reason="live")
    (route,) = store.load().table.routes
    roll_back_one_stage(store, route, VERDICT)
    (after,) = store.load().table.routes
    assert (after.stage, after.percent) == (Stage.CANARY, 40)
    store.close()


def test_a_gate_does_nothing_when_an_operator_already_moved_the_route(db_url: str) -> None:
    store = open_store(db_url)
    store.commit(table("canary", 25), expected_version=0, author="alice@test", reason="canary")
    (route,) = store.load().table.routes
    store.commit(table("shadow"), expected_version=1, author="bob@test", reason="back to shadow by hand")
    outcome = roll_back_one_stage(store, route, VERDICT)
    assert (outcome.action, outcome.table) == ("moved", None)
    assert outcome.detail == "/api/catalog changed after the evidence was taken (now shadow): not moved"
    assert store.latest_version() == 2
    store.close()


def test_a_gate_leaves_a_canary_alone_whose_share_changed_since_its_evidence(db_url: str) -> None:
    store = open_store(db_url)
    store.commit(table("canary", 10), expected_version=0, author="alice@test", reason="canary 10%")
    (route,) = store.load().table.routes
    store.commit(table("canary", 50), expected_version=1, author="bob@test", reason="canary 50%")
    assert roll_back_one_stage(store, route, VERDICT).action == "moved"
    (after,) = store.load().table.routes
    assert (after.stage, after.percent, store.latest_version()) == (Stage.CANARY, 50, 2)
    store.close()


def test_a_gate_never_tries_a_move_the_data_state_forbids_and_says_what_to_run(db_url: str) -> None:
    store = open_store(db_url)
    states = open_data_states(db_url)
    store.gate = DataGate(states).check
    live = table_from_dict(
        {
            "upstreams": {"monolith": "http://127.0.0.1:8000", "catalog": "http://127.0.0.1:8001"},
            "routes": [{"path": "/api/catalog", "service": "catalog", "stage": "canary", "percent": 10}],
        }
    )
    store.commit(live, expected_version=0, author="alice@test", reason="canary before the data was bound")
    states.put(
        state_from_dict(
            {"spec": "catalog", "routes": ["/api/catalog"], "phase": "live", "owner": "service", "verify_clean": True}
        )
    )
    bound = table_from_dict(
        {
            "upstreams": {"monolith": "http://127.0.0.1:8000", "catalog": "http://127.0.0.1:8001"},
            "routes": [{"path": "/api/catalog", "service": "catalog", "stage": "live", "data": "catalog"}],
        }
    )
    store.commit(bound, expected_version=1, author="strangler data", reason="cutover")
    (route,) = store.load().table.routes
    checked: list[int] = []
    refuse = store.gate

    def counting_gate(current: Any, new: Any) -> None:
        checked.append(new.version)
        refuse(current, new)

    store.gate = counting_gate
    outcome = roll_back_one_stage(store, route, VERDICT)
    assert (outcome.action, outcome.table) == ("held", None)
    assert outcome.detail.startswith("/api/catalog stays live: live -> canary 10% is not allowed: ")
    assert "the service owns the data of spec 'catalog'" in outcome.detail
    assert "strangler data rollback" in outcome.detail
    assert store.latest_version() == 2 and len(checked) == 1  # asked once, never committed
    store.close()
