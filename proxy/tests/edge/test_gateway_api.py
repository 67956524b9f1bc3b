"""`strangler routes export --format gateway-api`: HTTPRoutes valid against the vendored standard-channel CRD schema
(Gateway API v1.6.1), with the route table's semantics where the Gateway API has them."""

from __future__ import annotations

import copy
import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from strangler_proxy.dataplane.model import Route, RouteTable, Stage, Upstream
from strangler_proxy.edge.gateway_api import GatewayOptions, render_httproutes
from strangler_proxy.errors import ExportRefused

STRANGLER = str(Path(sys.executable).parent / "strangler")
CRD = Path(__file__).parent / "vendor" / "gateway-api-v1.6.1" / "gateway.networking.k8s.io_httproutes.yaml"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Validator:
    crd = yaml.load(CRD.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 (safe)
    assert crd["metadata"]["annotations"]["gateway.networking.k8s.io/channel"] == "standard"
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = v1["schema"]["openAPIV3Schema"]
    return jsonschema.Draft7Validator(schema)


def table(*routes: Route) -> RouteTable:
    return RouteTable(
        version=7,
        upstreams={
            "monolith": Upstream("monolith", "http://10.0.0.2:8000"),
            "catalog": Upstream("catalog", "http://10.0.0.3:8001"),
        },
        routes=routes,
    )


EVERY_KIND = table(
    Route("/api/catalog", "catalog", Stage.CANARY, percent=10),
    Route("/api/inventory", "catalog", Stage.SHADOW),
    Route("/api/orders/{id}/reviews", "catalog", Stage.LIVE, methods=frozenset({"GET"})),
    Route("/api/customers", "catalog", Stage.OFF),
    Route("/api/reviews", "catalog", Stage.CANARY, percent=30, methods=frozenset({"GET", "POST"})),
    Route("/api/shadowed-writes", "catalog", Stage.SHADOW, mirror_unsafe=True),
    Route("/api/products", "catalog", Stage.CANARY, percent=50, data="catalog"),
)
OPTIONS = GatewayOptions(
    parents=("shop/edge",),
    namespace="shop",
    hostnames=("shop.example",),
    comparator="strangler:8090",
    writes_via="strangler:8080",
)


def errors(validator: jsonschema.Validator, document: dict[str, Any]) -> list[str]:
    return [e.message for e in validator.iter_errors(document)]


def test_every_stage_renders_httproutes_the_crd_schema_accepts(validator: jsonschema.Validator) -> None:
    documents = render_httproutes(EVERY_KIND, OPTIONS)
    assert len(documents) == 1 + len(EVERY_KIND.routes)
    for document in documents:
        assert errors(validator, document) == [], document["metadata"]["name"]
        for rule in document["spec"]["rules"]:
            assert 1 <= len(rule["backendRefs"]) <= 16
            assert all(0 <= ref["weight"] <= 1_000_000 for ref in rule["backendRefs"])


def test_the_schema_check_catches_a_broken_httproute(validator: jsonschema.Validator) -> None:
    document = copy.deepcopy(render_httproutes(EVERY_KIND, OPTIONS)[1])
    document["spec"]["rules"][0]["matches"][0]["path"]["type"] = "Prefix"  # not a Gateway API match type
    document["spec"]["rules"][0]["backendRefs"][0]["weight"] = -1
    assert len(errors(validator, document)) == 2


def by_name(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d["spec"] for d in documents}


def test_a_canary_splits_reads_by_weight_and_sends_writes_to_the_monolith() -> None:
    spec = by_name(render_httproutes(EVERY_KIND, OPTIONS))["strangler-api-catalog"]
    writes, reads = spec["rules"]
    assert {m["method"] for m in writes["matches"]} == {"DELETE", "PATCH", "POST", "PUT"}
    assert writes["backendRefs"] == [{"name": "monolith", "port": 8000, "weight": 1}]
    assert reads["matches"] == [{"path": {"type": "PathPrefix", "value": "/api/catalog"}}]
    assert reads["backendRefs"] == [
        {"name": "monolith", "port": 8000, "weight": 90},
        {"name": "catalog", "port": 8001, "weight": 10},
    ]
    assert spec["parentRefs"] == [{"name": "edge", "namespace": "shop"}]


def test_shadow_mirrors_safe_requests_to_the_comparator_with_a_percentage() -> None:
    spec = by_name(render_httproutes(EVERY_KIND, OPTIONS))["strangler-api-inventory"]
    mirrored, writes = spec["rules"]
    assert {m["method"] for m in mirrored["matches"]} == {"GET", "HEAD", "OPTIONS"}
    assert mirrored["filters"] == [
        {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "strangler", "port": 8090}, "percent": 100}}
    ]
    assert mirrored["backendRefs"] == [{"name": "monolith", "port": 8000, "weight": 1}]
    assert "filters" not in writes


def test_writes_on_a_route_with_data_go_to_a_strangler_replica_or_the_export_refuses() -> None:
    spec = by_name(render_httproutes(EVERY_KIND, OPTIONS))["strangler-api-products"]
    writes, reads = spec["rules"]
    assert {m["method"] for m in writes["matches"]} == {"DELETE", "PATCH", "POST", "PUT"}
    assert writes["backendRefs"] == [{"name": "strangler", "port": 8080, "weight": 1}]
    assert {m["method"] for m in reads["matches"]} == {"GET", "HEAD", "OPTIONS"}
    with pytest.raises(ExportRefused, match="--writes-via-service"):
        render_httproutes(EVERY_KIND, dataclasses.replace(OPTIONS, writes_via=None))


def test_shadow_with_mirror_unsafe_mirrors_every_method() -> None:
    spec = by_name(render_httproutes(EVERY_KIND, OPTIONS))["strangler-api-shadowed-writes"]
    (rule,) = spec["rules"]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/api/shadowed-writes"}}]
    assert rule["filters"][0]["type"] == "RequestMirror"


def test_a_path_with_a_parameter_is_a_regular_expression_of_one_segment() -> None:
    spec = by_name(render_httproutes(EVERY_KIND, OPTIONS))["strangler-api-orders-id-reviews-get"]
    (rule,) = spec["rules"]
    assert [m["method"] for m in rule["matches"]] == ["GET", "HEAD"]
    assert rule["matches"][0]["path"] == {"type": "RegularExpression", "value": "^/api/orders/[^/]+/reviews(/.*)?$"}


def test_the_cli_prints_yaml_documents_from_a_routes_file(tmp_path: Path, validator: jsonschema.Validator) -> None:
    routes = tmp_path / "routes.toml"
    routes.write_text(
        '[upstreams.monolith]\nurl = "http://10.0.0.2:8000"\n[upstreams.catalog]\nurl = "http://10.0.0.3:8001"\n'
        '[[routes]]\npath = "/api/catalog"\nservice = "catalog"\nstage = "canary"\npercent = 25\n'
    )
    done = subprocess.run(
        [STRANGLER, "routes", "export", "--from", str(routes), "--format", "gateway-api", "--gateway", "edge"],
        capture_output=True,
        text=True,
        check=True,
    )
    documents = list(yaml.safe_load_all(done.stdout))
    assert [d["metadata"]["name"] for d in documents] == ["strangler-default", "strangler-api-catalog"]
    assert all(errors(validator, d) == [] for d in documents)
