"""The comparison endpoints on a real admin listener: field report, mismatch list and one mismatch, with the token."""

from __future__ import annotations

from pathlib import Path

import httpx
from compare_helpers import MakeStack, Shop
from control_plane_helpers import ADMIN_TOKEN, public_placeholder, serve_in_thread
from strangler_proxy.control.compare_endpoints import add_compare_endpoints
from strangler_proxy.control.route_endpoints import route_admin_app
from strangler_proxy.dataplane.model import CompareSettings, Route, Stage

pytest_plugins = ["compare_fixtures"]

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_the_admin_api_reports_fields_and_serves_stored_mismatches(make: MakeStack, tmp_path: Path) -> None:
    route = Route("/api/catalog", "catalog", Stage.SHADOW, compare=CompareSettings(noise_sample=0.0))
    cs = make(route, service=Shop(price_style="short"), route_store_url=str(tmp_path / "routes.sqlite3"))
    cs.get("/api/catalog/products", 3)
    cs.drain()
    assert cs.routes is not None
    admin = route_admin_app(cs.routes, token=ADMIN_TOKEN)
    add_compare_endpoints(admin, cs.comparator, cs.mismatches)
    with serve_in_thread(public_placeholder, admin) as served, httpx.Client(base_url=served.admin_url) as client:
        assert client.get("/compare").status_code == 401
        report = client.get("/compare", headers=AUTH).json()
        catalog = report["routes"]["/api/catalog"]
        assert (catalog["compared"], catalog["net_diffs"], catalog["net_diff_rate"]) == (3, 3, 1.0)
        assert [(f["field"], f["net"]) for f in catalog["fields"]] == [("$.results[*].price", 3)]
        listed = client.get("/diffs", params={"route": "/api/catalog", "limit": "2"}, headers=AUTH).json()
        assert len(listed["mismatches"]) == 2
        newest = listed["mismatches"][0]["id"]
        one = client.get("/diffs/one", params={"id": str(newest)}, headers=AUTH).json()
        assert one["id"] == newest and one["net_fields"] == ["$.results[*].price"]
        missing = client.get("/diffs/one", params={"id": "999"}, headers=AUTH)
        assert missing.status_code == 404 and missing.json()["error"] == "unknown_mismatch"
        bad = client.get("/diffs/one", params={"id": "x"}, headers=AUTH)
        assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "id"
