"""Comparison endpoints on the admin API (same listener, token and error shape as the rest of it).

GET /compare                       per route: compared, net diffs, noise samples, fields (raw/noise/net), gate window
GET /diffs?route=PATH&limit=N      stored mismatches, newest first
GET /diffs/one?id=N                one stored mismatch (redacted), 404 unknown_mismatch when there is none
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote_plus

from strangler_proxy.compare.comparator import Comparator
from strangler_proxy.compare.mismatch_store import MismatchStore
from strangler_proxy.control.admin import AdminApp, Request
from strangler_proxy.errors import Problem, TableInvalid


def add_compare_endpoints(admin: AdminApp, comparator: Comparator, mismatches: MismatchStore | None) -> None:
    async def get_compare(request: Request) -> tuple[int, Any]:
        routes = {}
        for label, tally in comparator.noise.routes.items():
            routes[label] = {
                "compared": tally.compared,
                "net_diffs": tally.net_diffs,
                "net_diff_rate": tally.net_diffs / tally.compared if tally.compared else 0.0,
                "noise_samples": tally.noise_samples,
                "fields": comparator.field_report(label),
            }
        return 200, {"routes": routes, "gates": comparator.gates.status()}

    async def get_diffs(request: Request) -> tuple[int, Any]:
        store = _store(mismatches)
        limit = _whole(request.query("limit") or "50", "limit")
        route = unquote_plus(request.query("route") or "") or None  # Request.query leaves values percent-encoded
        rows = await asyncio.to_thread(store.recent, limit=limit, route=route)
        return 200, {"mismatches": [r.as_dict() for r in rows]}

    async def get_one(request: Request) -> tuple[int, Any]:
        store = _store(mismatches)
        mismatch_id = _whole(request.query("id") or "", "id")
        return 200, await asyncio.to_thread(store.get, mismatch_id)

    admin.add("GET", "/compare", get_compare)
    admin.add("GET", "/diffs", get_diffs)
    admin.add("GET", "/diffs/one", get_one)


def _store(mismatches: MismatchStore | None) -> MismatchStore:
    if mismatches is None:
        raise TableInvalid([Problem("", "this proxy stores no mismatches (STRANGLER_COMPARE=0)")])
    return mismatches


def _whole(raw: str, name: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 1_000_000_000:
        raise TableInvalid([Problem(name, "must be a whole number >= 1")])
    return int(raw)
