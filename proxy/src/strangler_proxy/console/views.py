"""What each console page shows, as JSON: assembled from the admin API's own endpoints, called in-process
(`AdminApp.call`), plus the recent traffic and the handovers the console keeps.

    data = ConsoleData(admin, traffic, handovers)
    await data.overview()                      # every route: stage, data state, live split
    await data.route("/api/catalog", None)     # one route: series, diffs, gate, history, what may change
    await data.diffs(route=None)               # mismatches grouped by endpoint and field path
    await data.diff(42)                        # one mismatch, its differing paths, copy-as-curl
    await data.cutover()                       # data states, holds, handover steps
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from strangler_proxy.compare.mismatch_export import curl_commands
from strangler_proxy.console.handover import HandoverLog
from strangler_proxy.console.traffic import TrafficHistory
from strangler_proxy.control.admin import AdminApp
from strangler_proxy.dataplane.model import DEFAULT_COMPARE

STAGES = ("off", "shadow", "canary", "live")
COMMAND = re.compile(r"`(strangler [^`]+)`")
NUMBER_SEGMENT = re.compile(r"/\d+(?=/|$)")
GATE_FIELDS = (
    "gate",
    "gate_min_samples",
    "gate_window",
    "gate_max_diff_rate",
    "gate_max_5xx_rate",
    "gate_max_p99_ratio",
)


class ConsoleData:
    def __init__(self, admin: AdminApp, traffic: TrafficHistory, handovers: HandoverLog) -> None:
        self.admin = admin
        self.traffic = traffic
        self.handovers = handovers

    async def _get(self, path: str, **query: Any) -> Any:
        """The endpoint's answer, or None when this proxy does not serve it (comparison or cutover not attached)."""
        status, data = await self.admin.call("GET", path, query=urlencode({k: v for k, v in query.items() if v}))
        return data if status == 200 else None

    async def overview(self) -> dict[str, Any]:
        routes = await self._get("/routes") or {"version": 0, "table": None}
        table = routes.get("table") or {"routes": [], "default_upstream": "monolith", "upstreams": {}}
        states = {s["spec"]: s for s in ((await self._get("/data-state")) or {}).get("states", [])}
        compared = ((await self._get("/compare")) or {}).get("routes", {})
        holds = ((await self._get("/holds")) or {}).get("holds", [])
        rows = []
        for route in table["routes"]:
            label = _label(route)
            compare = compared.get(label, {})
            rows.append(
                {
                    **route,
                    "label": label,
                    "data_state": _data_state(states.get(route.get("data", ""))),
                    "traffic": self.traffic.split(label, table["default_upstream"]),
                    "net_diff_rate": compare.get("net_diff_rate"),
                    "compared": compare.get("compared", 0),
                    "held": sum(h["waiting"] for h in holds if _covers(h["path"], route["path"])),
                }
            )
        return {
            "version": routes.get("version", 0),
            "changed_at": routes.get("changed_at"),
            "author": routes.get("author"),
            "reason": routes.get("reason"),
            "default_upstream": table["default_upstream"],
            "routes": rows,
            "holds": len(holds),
        }

    async def route(self, path: str, methods: list[str] | None) -> dict[str, Any] | None:
        routes = await self._get("/routes") or {}
        table = routes.get("table") or {"routes": []}
        route = next((r for r in table["routes"] if r["path"] == path and r["methods"] == methods), None)
        if route is None:
            return None
        label = _label(route)
        compared = ((await self._get("/compare")) or {}).get("routes", {}).get(label, {})
        firings = ((await self._get("/gates", route=label, limit=10)) or {}).get("firings", [])
        history = ((await self._get("/history", limit=200)) or {}).get("versions", [])
        touching = [v for v in history if path in v["summary"] or v["version"] == routes["version"]][:30]
        states = {s["spec"]: s for s in ((await self._get("/data-state")) or {}).get("states", [])}
        fields = sorted(compared.get("fields", []), key=lambda f: (-f["raw"], f["field"]))[:10]
        gate = {k: route.get("compare", {}).get(k, getattr(DEFAULT_COMPARE, k)) for k in GATE_FIELDS}
        return {
            "version": routes["version"],
            "route": {**route, "label": label},
            "data_state": _data_state(states.get(route.get("data", ""))),
            "traffic": self.traffic.split(label, table["default_upstream"]),
            "series": self.traffic.series(label),
            "compare": {
                "compared": compared.get("compared", 0),
                "net_diffs": compared.get("net_diffs", 0),
                "net_diff_rate": compared.get("net_diff_rate", 0.0),
                "noise_samples": compared.get("noise_samples", 0),
                "fields": fields,
            },
            "gate": gate,
            "firings": firings,
            "history": touching,
            "stages": await self.stage_options(route, routes["version"]),
        }

    async def stage_options(self, route: dict[str, Any], version: int) -> list[dict[str, Any]]:
        """Each stage the route could be moved to: allowed, or refused with the data gate's reason and the commands
        that would unlock it (a dry run of the very change: nothing is stored)."""
        options = []
        for stage in STAGES:
            fields: dict[str, Any] = {"stage": stage}
            if stage == "canary":
                fields["percent"] = route["percent"] if route["stage"] == "canary" else 10
            option: dict[str, Any] = {"stage": stage, "current": stage == route["stage"], "allowed": True}
            if stage != route["stage"]:
                status, answer = await self.preview(route, fields, version)
                if status != 200:
                    option.update(allowed=False, reason=answer.get("detail", ""), unlock=unlock_commands(answer))
            options.append(option)
        return options

    async def preview(self, route: dict[str, Any], fields: dict[str, Any], version: int) -> tuple[int, Any]:
        body = {"path": route["path"], "methods": route["methods"], **fields, "expected_version": version}
        return await self.admin.call("POST", "/routes", body={**body, "dry_run": True})

    async def diffs(self, route: str | None) -> dict[str, Any]:
        answer = await self._get("/diffs", route=route, limit=500)
        if answer is None:
            return {"enabled": False, "groups": [], "mismatches": []}
        rows = answer["mismatches"]
        groups: dict[tuple[str, str, str], dict[str, Any]] = {}
        for row in rows:
            endpoint = NUMBER_SEGMENT.sub("/{id}", row["target"].split("?")[0])
            key = (row["route"], row["method"], endpoint)
            group = groups.setdefault(
                key, {"route": key[0], "method": key[1], "endpoint": endpoint, "count": 0, "fields": defaultdict(list)}
            )
            group["count"] += 1
            for field in row["fields"] or ["(status or headers)"]:
                group["fields"][field].append(row["id"])
        out = []
        for group in sorted(groups.values(), key=lambda g: -g["count"]):
            fields = sorted(group.pop("fields").items(), key=lambda kv: -len(kv[1]))
            group["fields"] = [{"field": f, "count": len(ids), "ids": ids[:20]} for f, ids in fields]
            out.append(group)
        return {"enabled": True, "groups": out, "mismatches": rows[:100]}

    async def diff(self, mismatch_id: int) -> tuple[int, Any]:
        status, record = await self.admin.call("GET", "/diffs/one", query=urlencode({"id": mismatch_id}))
        if status != 200:
            return status, record
        return 200, {"record": record, "paths": [d["path"] for d in record["diffs"]], "curl": curl_commands(record)}

    async def cutover(self) -> dict[str, Any]:
        states = (await self._get("/data-state")) or {"states": [], "limits": {}}
        holds = (await self._get("/holds")) or {"holds": [], "waits": {}}
        return {
            "states": [_data_state(s) for s in states["states"]],
            "limits": states.get("limits", {}),
            "holds": holds["holds"],
            "held_now": sum(h["waiting"] for h in holds["holds"]),
            "waits": holds.get("waits", {}),
            "handovers": self.handovers.recent(),
        }


def unlock_commands(answer: dict[str, Any]) -> list[str]:
    """The `strangler ...` commands a refusal names, in order, once each."""
    found = COMMAND.findall(answer.get("detail", "") + " " + " ".join(p["message"] for p in answer.get("problems", [])))
    return list(dict.fromkeys(found))


def _label(route: dict[str, Any]) -> str:
    methods = route.get("methods")
    return str(route["path"]) + (f" [{','.join(sorted(methods))}]" if methods else "")


def _covers(prefix: str, path: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def _data_state(state: dict[str, Any] | None) -> dict[str, Any] | None:
    if state is None:
        return None
    verified_age = None
    if state.get("verified_at"):
        try:
            verified_age = round(time.time() - datetime.fromisoformat(state["verified_at"]).timestamp(), 1)
        except ValueError:
            verified_age = None
    return {**state, "verified_age_s": verified_age}
