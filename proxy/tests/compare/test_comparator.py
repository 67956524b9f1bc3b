"""The comparator behind the real proxy, with real upstream servers on loopback: what it counts and what it stores."""

from __future__ import annotations

import json
from pathlib import Path

from compare_helpers import MakeStack, Shop
from strangler_proxy.compare.settings import CompareConfig
from strangler_proxy.dataplane.model import CompareSettings, Route, Stage

pytest_plugins = ["compare_fixtures"]

PRODUCTS = "/api/catalog/products"


def shadow(**compare: object) -> Route:
    return Route("/api/catalog", "catalog", Stage.SHADOW, compare=CompareSettings(**compare))  # type: ignore[arg-type]


def test_identical_services_give_zero_net_differences(make: MakeStack) -> None:
    cs = make(shadow())
    assert cs.get(PRODUCTS, 20) == [200] * 20
    cs.drain()
    tally = cs.comparator.noise.route("/api/catalog")
    assert (tally.compared, tally.net_diffs) == (20, 0)
    assert cs.comparator.field_report("/api/catalog") == []
    assert (
        'strangler_compare_requests_total{outcome="equal",route="/api/catalog"} 20.0'
        in cs.stack.app.metrics_text().decode()
    )


def test_a_service_that_formats_a_price_differently_is_caught_on_exactly_that_field(make: MakeStack) -> None:
    cs = make(shadow(), service=Shop(price_style="short"))
    cs.get(PRODUCTS, 12)
    cs.drain()
    report = cs.comparator.field_report("/api/catalog")
    assert [(r["field"], r["raw"], r["noise"], r["net"]) for r in report] == [("$.results[*].price", 12, 0, 12)]
    assert cs.comparator.noise.route("/api/catalog").net_diffs == 12
    text = cs.stack.app.metrics_text().decode()
    assert (
        'strangler_compare_field_diffs_total{count="net",field="$.results[*].price",route="/api/catalog"} 12.0' in text
    )


def test_a_timestamp_that_differs_on_every_call_is_learned_as_noise_and_not_counted(make: MakeStack) -> None:
    cs = make(shadow(noise_sample=0.2), monolith=Shop(timestamp=True), service=Shop(timestamp=True))
    cs.get(PRODUCTS, 30)
    cs.drain()
    tally = cs.comparator.noise.route("/api/catalog")
    assert (tally.compared, tally.net_diffs) == (30, 0)
    (row,) = cs.comparator.field_report("/api/catalog")
    assert (row["field"], row["raw"], row["net"], row["is_noise"]) == ("$.generated_at", 30, 0, True)
    assert row["noise"] == tally.noise_samples >= 10  # every warm-up sample saw it differ
    # the monolith answered each client once and each noise sample once more
    assert len(cs.stack.monolith.received) == 30 + tally.noise_samples


def test_noise_does_not_hide_a_real_difference_next_to_it(make: MakeStack) -> None:
    cs = make(shadow(), monolith=Shop(timestamp=True), service=Shop(timestamp=True, price_style="number"))
    cs.get(PRODUCTS, 15)
    cs.drain()
    report = {r["field"]: r for r in cs.comparator.field_report("/api/catalog")}
    assert report["$.results[*].price"]["net"] == 15 and report["$.generated_at"]["net"] == 0
    assert cs.comparator.noise.route("/api/catalog").net_diffs == 15


def test_ignore_rules_and_header_choices_come_from_the_route(make: MakeStack) -> None:
    cs = make(shadow(ignore=["$.results[*].price"]), service=Shop(price_style="short"))
    cs.get(PRODUCTS, 5)
    cs.drain()
    assert cs.comparator.noise.route("/api/catalog").net_diffs == 0


def test_mismatches_are_stored_redacted_with_both_answers_and_the_field_diff(make: MakeStack, db_url: str) -> None:
    cs = make(shadow(), service=Shop(price_style="short"), route_store_url=db_url)
    client = cs.stack.client()
    client.request(
        "GET", PRODUCTS + "?token=s3cret&page=1", headers={"Authorization": "Token abc", "Cookie": "sessionid=zzz"}
    )
    client.close()
    cs.drain()
    (summary,) = cs.mismatches.recent()
    assert (summary.route, summary.method, summary.status, summary.fields) == (
        "/api/catalog",
        "GET",
        "200 -> 200",
        ["$.results[*].price"],
    )
    record = cs.mismatches.get(summary.id)
    stored = json.dumps(record)
    assert "s3cret" not in stored and "Token abc" not in stored and "zzz" not in stored
    headers = dict(record["request"]["headers"])
    assert headers["authorization"] == "[redacted]" and headers["cookie"] == "sessionid=[redacted]"
    assert record["request"]["target"] == PRODUCTS + "?token=%5Bredacted%5D&page=1"
    assert [d["path"] for d in record["diffs"]] == ["$.results[1].price"]
    assert json.loads(record["expected"]["body"])["results"][1]["price"] == "15.00"
    assert json.loads(record["actual"]["body"])["results"][1]["price"] == "15"
    assert record["upstreams"]["expected"] == cs.stack.monolith.url


def test_mismatch_storage_is_capped_per_route_and_minute(make: MakeStack, tmp_path: Path) -> None:
    config = CompareConfig(mismatch_per_minute=3)
    cs = make(shadow(), service=Shop(price_style="short"), route_store_url=str(tmp_path / "r.sqlite3"), config=config)
    cs.get(PRODUCTS, 8)
    cs.drain()
    assert cs.mismatches.count() == 3


def test_mirrored_unsafe_requests_never_reach_the_service_unless_the_route_opts_in(make: MakeStack) -> None:
    cs = make(shadow(noise_sample=1.0))
    status, _, _ = cs.stack.request("POST", PRODUCTS, body=b'{"name": "cap", "price": "4.00"}')
    cs.drain()
    assert status == 201
    assert sorted(cs.service.products) == [1, 2] and sorted(cs.monolith.products) == [1, 2, 3]
    assert [r.method for r in cs.stack.catalog.received] == []


def test_an_opted_in_route_mirrors_writes_once_and_the_monolith_is_never_asked_twice_for_a_write(
    make: MakeStack,
) -> None:
    cs = make(
        Route("/api/catalog", "catalog", Stage.SHADOW, mirror_unsafe=True, compare=CompareSettings(noise_sample=1.0))
    )
    cs.stack.request("POST", PRODUCTS, body=b'{"name": "cap", "price": "4.00"}')
    cs.drain()
    assert sorted(cs.service.products) == [1, 2, 3] and sorted(cs.monolith.products) == [1, 2, 3]
    (mirrored,) = cs.stack.catalog.received
    assert mirrored.header("X-Strangler-Shadow") == b"1"
    assert [r.method for r in cs.stack.monolith.received] == ["POST"]


def test_a_full_comparator_queue_skips_results_and_counts_them(make: MakeStack) -> None:
    cs = make(shadow(noise_sample=0.0), config=CompareConfig(queue=1), service=Shop(delay=0.0))

    async def block() -> None:
        cs.comparator._task.cancel()  # no worker: the queue fills

    cs.stack.lt.run(block())
    cs.get(PRODUCTS, 3)
    cs.stack.drain_shadow()
    text = cs.stack.app.metrics_text().decode()
    assert 'strangler_compare_requests_total{outcome="skipped_queue_full",route="/api/catalog"} 2.0' in text
