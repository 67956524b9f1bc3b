"""Write-hold cost of the catalog's cutover and rollback under a mixed load, on SQLite and on PostgreSQL (not a test).

    .venv/bin/python bench/data/cutover_hold.py [--engine sqlite|postgresql|both] [--cycles 5] [--rate 120]

For each engine it starts a `make up` stack of its own (a temporary state directory, free ports; on PostgreSQL two
fresh databases, the monolith's and the catalog service's), drives the walk's mixed load through the proxy
(`--rate` requests a second offered, `--writes` of them product creations by staff, the rest product reads), and
runs `strangler data cutover` then `rollback` `--cycles` times. Per engine it prints the hold's length (from the
proxy's taking the hold, which an engine that settles first does at a moment with no write in flight, to its release)
p50/p99/max, the held requests' extra latency (each held request's wait at the proxy, the
admin API's DELETE /holds answer: p99 of each handover, and the longest), how long each step under the hold took
(median), and the load's answers. Exit 1 if any request failed (a 5xx or a transport error).

`--reference SRC` (another checkout's `migration-playbook/src`, e.g. `git archive main migration-playbook | tar -x
-C /tmp/ref`) alternates each cutover + rollback pair between that engine and this one on the same stack, under
the same load, and prints both: the hold's ratio to a reference measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "walk"))
from walk_under_load import SPEC, THREADS, Load, start_stack, strangler  # noqa: E402

SERVER = os.environ.get("STRANGLER_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
GOAL_MS = 100.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(engine: str, args: argparse.Namespace) -> dict[str, Any]:
    databases: dict[str, str] = {}
    admin = None
    if engine == "postgresql":
        suffix = uuid.uuid4().hex[:8]
        databases = {
            "DATABASE_URL": f"strangler_hold_shop_{suffix}",
            "CATALOG_DATABASE_URL": f"strangler_hold_catalog_{suffix}",
        }
        admin = psycopg.connect(SERVER, autocommit=True)
        for name in databases.values():
            admin.execute(f'CREATE DATABASE "{name}"')
    urls = {key: SERVER.rsplit("/", 1)[0] + "/" + name for key, name in databases.items()}
    try:
        with tempfile.TemporaryDirectory(prefix=f"strangler-hold-{engine}-") as state:
            return _measure(engine, Path(state), urls, args)
    finally:
        if admin is not None:
            for name in databases.values():
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()


def _measure(engine: str, state: Path, urls: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    stack = start_stack(state, args.products, urls)
    try:
        env = stack.env()
        public = f"http://{stack.proxy}"
        token = httpx.post(f"{public}/api/auth/token/", data={"username": "staff", "password": "strangler-staff"})
        category = httpx.get(f"{public}/api/catalog/categories/").json()["results"][0]["id"]
        page = httpx.get(f"{public}/api/catalog/products/", params={"page_size": 100}).json()["results"]
        load = Load(stack.proxy, args.rate, args.writes, token.json()["token"], category, [p["id"] for p in page])
        lanes = [threading.Thread(target=load.run, args=(i,), daemon=True) for i in range(THREADS)]
        started = time.monotonic()
        for lane in lanes:
            lane.start()
        time.sleep(2)  # the load settles before the first handover
        variants = {"this": env}
        if args.reference:
            variants["reference"] = {**env, "PYTHONPATH": str(args.reference)}
        by_variant: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
        rng = random.Random(1)
        for cycle in range(args.cycles):
            for name, variant_env in variants.items():
                for command in ("cutover", "rollback"):
                    done = strangler(variant_env, "data", command, SPEC, "--json")
                    report = json.loads(done.stdout)
                    by_variant[name].append(report)
                    waits = report["hold_waits"]
                    print(
                        f"  {engine} {name} {command} {cycle + 1}: hold {report['hold_seconds'] * 1000:.0f} ms, "
                        f"{waits.get('held', 0)} held, wait p99 {waits.get('p99_ms')} ms "
                        f"(load average {load_average()})\n    {report.get('hold_breakdown')}",
                        flush=True,
                    )
                    time.sleep(1.0 + rng.random())  # writes between handovers, not always in the same phase
        load.stop.set()
        for lane in lanes:
            lane.join(60)
        seconds = time.monotonic() - started
    finally:
        stack.stop()
    failed = sum(n for status, n in load.statuses.items() if status >= 500) + sum(load.errors.values())
    results = {name: _summary(handovers) for name, handovers in by_variant.items()}
    return {
        "engine": engine,
        "variants": results,
        "rate": round(load.sent / seconds, 1),
        "statuses": dict(sorted(load.statuses.items())),
        "errors": dict(load.errors),
        "failed": failed,
        "load_average": load_average(),
    }


def _in_flight_wait_ms(handover: dict[str, Any]) -> float:
    breakdown = handover.get("hold_breakdown") or {}
    if "hold" in breakdown:
        return float(breakdown["hold"])
    return float(next(s["seconds"] for s in handover["steps"] if s["step"] == "hold")) * 1000


def _summary(handovers: list[dict[str, Any]]) -> dict[str, Any]:
    holds = [h["hold_seconds"] * 1000 for h in handovers]
    # The engine's part: the hold less the proxy's wait for the writes already in flight (its breakdown's "hold"; a
    # hold that settles first, `steps.take_hold`, starts when the proxy began holding, not when it was asked).
    own = [h["hold_seconds"] * 1000 - _in_flight_wait_ms(h) for h in handovers]
    p50s = [float(h["hold_waits"]["p50_ms"]) for h in handovers if h["hold_waits"].get("p50_ms") is not None]
    p99s = [float(h["hold_waits"]["p99_ms"]) for h in handovers if h["hold_waits"].get("p99_ms") is not None]
    maxes = [float(h["hold_waits"]["max_ms"]) for h in handovers if h["hold_waits"].get("max_ms") is not None]
    steps: dict[str, list[float]] = defaultdict(list)
    for handover in handovers:
        for step in handover["steps"]:
            steps[step["step"]].append(step["seconds"] * 1000)
    # Where each hold's time went (the engine's own breakdown, which adds up to the hold): median over handovers.
    inside: dict[str, list[float]] = defaultdict(list)
    for handover in handovers:
        for name, ms in (handover.get("hold_breakdown") or {}).items():
            inside[name].append(ms)
    return {
        "handovers": len(handovers),
        "hold_ms": {"p50": percentile(holds, 0.5), "p99": percentile(holds, 0.99), "max": max(holds)},
        "engine_ms": {"p50": percentile(own, 0.5), "p99": percentile(own, 0.99), "max": max(own)},
        "held": sum(int(h["hold_waits"].get("held", 0)) for h in handovers),
        "wait_p50_ms": statistics.median(p50s) if p50s else None,
        "wait_p99_ms": {"median": statistics.median(p99s) if p99s else None, "max": max(p99s) if p99s else None},
        "wait_max_ms": max(maxes) if maxes else None,
        "steps_median_ms": {name: round(statistics.median(v), 1) for name, v in steps.items()},
        "hold_breakdown_median_ms": {
            name: round(statistics.median(v + [0.0] * (len(handovers) - len(v))), 1) for name, v in inside.items()
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--cycles", type=int, default=5, help="cutover + rollback pairs per engine")
    parser.add_argument("--rate", type=float, default=120.0, help="requests per second offered, all clients together")
    parser.add_argument("--writes", type=float, default=0.15, help="share of requests that create a product")
    parser.add_argument("--products", type=int, default=2000, help="products seeded in the monolith")
    parser.add_argument("--json", action="store_true", help="print the results as JSON only")
    parser.add_argument("--reference", type=Path, help="another engine's source folder, alternated with this one")
    args = parser.parse_args()
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    results = [measure(engine, args) for engine in engines]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            print(f"\n{r['engine']}: {r['rate']} req/s answered {r['statuses']} errors {r['errors']}")
            for name, v in r["variants"].items():
                print(
                    f"  {name}: {v['handovers']} handovers; hold p50 {v['hold_ms']['p50']:.0f} ms, p99 "
                    f"{v['hold_ms']['p99']:.0f} ms, max {v['hold_ms']['max']:.0f} ms (the engine's part, less the wait "
                    f"for writes in flight: p50 {v['engine_ms']['p50']:.0f} ms, p99 {v['engine_ms']['p99']:.0f} ms); "
                    f"{v['held']} requests held, their extra latency: p50 per handover median {v['wait_p50_ms']} ms, "
                    f"p99 per handover median {v['wait_p99_ms']['median']} ms, max "
                    f"{v['wait_p99_ms']['max']} ms; longest {v['wait_max_ms']} ms\n    steps (median ms): "
                    f"{v['steps_median_ms']}\n    under the hold (median ms; 'hold' is the wait for writes in flight): "
                    f"{v['hold_breakdown_median_ms']}"
                )
        print(f"\n| figure (load average {results[-1]['load_average']}) | now | goal |")
        print("|---|---|---|")
        for r in results:
            v = r["variants"]["this"]
            ratio = ""
            if "reference" in r["variants"]:
                ref = r["variants"]["reference"]
                ratio = (
                    f" (reference in the same run: {ref['hold_ms']['p50']:.0f} ms p50, its part "
                    f"{ref['engine_ms']['p50']:.0f} ms; ratio {v['hold_ms']['p50'] / ref['hold_ms']['p50']:.2f}x, "
                    f"its part {v['engine_ms']['p50'] / ref['engine_ms']['p50']:.2f}x)"
                )
            print(
                f"| cutover write hold on {r['engine']}, {r['rate']:.0f} req/s: hold p50 / p99 (the engine's part "
                f"p50 / p99), held requests' wait p50 / p99 (max over handovers) | {v['hold_ms']['p50']:.0f} / "
                f"{v['hold_ms']['p99']:.0f} ms ({v['engine_ms']['p50']:.0f} / {v['engine_ms']['p99']:.0f} ms), "
                f"{v['wait_p50_ms']} / {v['wait_p99_ms']['max']} ms{ratio} | ≤ {GOAL_MS:.0f} ms |"
            )
    return 1 if any(r["failed"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
