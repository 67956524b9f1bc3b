"""The catalog's whole walk under load, as an operator does it (not a test; tests/test_walk_under_load.py runs it).

    .venv/bin/python bench/walk/walk_under_load.py [--rate 120] [--stage-seconds 8] [--writes 0.15]

Starts a `make up` stack of its own (a temporary state directory, free ports), drives a steady load through the
proxy — reads of products (a fifth of them signed in as staff) and, for `--writes` of the requests, new products
created by staff — and meanwhile walks the catalog with `strangler` commands: shadow → verify + publish → canary
10% → canary 50% → cutover → rollback → cutover, `--stage-seconds` in each stage. The route's gate is made eager
(`gate_min_samples` 20) so that evidence from the wrong stage would move it.

It prints what it measured and exits 1 unless: no request failed (no 5xx, no transport error), every product a
client was told was created is in both databases at the end (and verify is clean), and every move a gate made had
its evidence from the route exactly as it was (the stage and route revision the gate saw are the ones it moved).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import random
import shlex
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import service_list  # noqa: E402  tools/ is not a package

# What `make up` starts: the monolith, each listed service that runs on SQLite, the proxy and its admin API.
PROCESSES = ["monolith", *(s.name for s in service_list.load() if s.runs_on_sqlite), "proxy", "admin"]
SPEC = "migration-playbook/specs/catalog.toml"
STRANGLER = str(Path(sys.executable).parent / "strangler")
THREADS = 24
EAGER_GATE = {"gate_min_samples": 20, "gate_window": 100}


def free_ports() -> dict[str, int]:
    sockets = [socket.socket() for _ in PROCESSES]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return {name: s.getsockname()[1] for name, s in zip(PROCESSES, sockets, strict=True)}
    finally:
        for s in sockets:
            s.close()


@dataclass
class Stack:
    """A `tools/stack.py up` of the walk's own."""

    state: Path
    ports: dict[str, int]
    process: subprocess.Popen[str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)

    @property
    def proxy(self) -> str:
        return f"127.0.0.1:{self.ports['proxy']}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRANGLER_") and "DATABASE_URL" not in k}
        for line in (self.state / "cli.env").read_text().splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = shlex.split(value)[0]
        return env

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_stack(state: Path, products: int, databases: dict[str, str] | None = None) -> Stack:
    """Start it; `databases` sets DATABASE_URL and the services' <NAME>_DATABASE_URL (default: SQLite files in
    `state`)."""
    ports = free_ports()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRANGLER_") and "DATABASE_URL" not in k}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(STRANGLER_STATE_DIR=str(state), MONOLITH_SEED_ARGS=f"--products {products} --customers 0 --orders 0")
    env.update(databases or {})
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tools" / "stack.py"),
            "up",
            *[a for name, port in ports.items() for a in (f"--{name}-port", str(port))],
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stack = Stack(state, ports, process)
    assert process.stdout is not None
    threading.Thread(target=lambda: [stack.lines.put(line) for line in process.stdout], daemon=True).start()
    deadline = time.monotonic() + 180
    while True:
        try:
            line = stack.lines.get(timeout=1)
        except queue.Empty:
            line = ""
        if "Strangler stack is up" in line:
            return stack
        if process.poll() is not None or time.monotonic() > deadline:
            stack.stop()
            raise RuntimeError("the stack did not come up; see " + str(state / "logs"))


@dataclass
class Load:
    """Paced clients through the proxy: reads, some signed in, and product creations by staff."""

    host: str
    rate: float
    writes: float
    token: str
    category: int
    products: list[int]  # ids anyone may read
    stop: threading.Event = field(default_factory=threading.Event)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    created: list[str] = field(default_factory=list)
    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, lane: int) -> None:
        rng = random.Random(lane)
        interval = THREADS / self.rate
        conn = http.client.HTTPConnection(*self.host.split(":"), timeout=30)
        next_at = time.monotonic() + rng.random() * interval
        n = 0
        while not self.stop.is_set():
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval
            n += 1
            headers = {"Host": self.host, "Accept": "application/json"}
            if rng.random() < self.writes:
                sku = f"WALK-{lane}-{n}"
                body = json.dumps(
                    {"sku": sku, "name": sku, "slug": sku.lower(), "price": "9.50", "category": self.category}
                )
                request = ("POST", "/api/catalog/products/", body, {**headers, "Content-Type": "application/json"})
                request[3]["Authorization"] = f"Token {self.token}"
            else:
                sku = ""
                if rng.random() < 0.2:
                    headers["Authorization"] = f"Token {self.token}"
                request = ("GET", f"/api/catalog/products/{rng.choice(self.products)}/", None, headers)
            try:
                conn.request(request[0], request[1], body=request[2], headers=request[3])
                answer = conn.getresponse()
                answer.read()
                status = answer.status
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection(*self.host.split(":"), timeout=30)
                with self.lock:
                    self.sent += 1
                    self.errors[type(exc).__name__] += 1
                continue
            with self.lock:
                self.sent += 1
                self.statuses[status] += 1
                if sku and status == 201:
                    self.created.append(sku)
        conn.close()


def strangler(env: dict[str, str], *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    ran = subprocess.run(
        [STRANGLER, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False
    )
    if ran.returncode not in ok:
        raise RuntimeError(f"strangler {' '.join(args)}: exit {ran.returncode}\n{ran.stdout}\n{ran.stderr}")
    return ran


def gate_moves_without_evidence(admin: httpx.Client) -> list[str]:
    """Every version a gate made must match a firing whose evidence (stage label and route revision) is the route's
    as it stood just before that version; what does not is listed."""
    versions = sorted(v["version"] for v in admin.get("/history", params={"limit": 1000}).json()["versions"])
    firings = {f["version"]: f for f in admin.get("/gates", params={"limit": 1000}).json()["firings"] if f["version"]}
    tables = {v: admin.get(f"/versions/{v}").json() for v in versions}
    problems = []
    for version in versions:
        if tables[version]["author"] != "gate":
            continue
        firing = firings.get(version)
        if firing is None:
            problems.append(f"version {version} was made by a gate with no recorded firing")
            continue
        route = _route(tables[version - 1]["table"])
        revision = version - 1
        while revision > 1 and _route(tables[revision - 1]["table"]) == route:
            revision -= 1
        stage = f"canary {route['percent']}%" if route["stage"] == "canary" else route["stage"]
        if (firing["stage"], firing["revision"]) != (stage, revision):
            problems.append(
                f"version {version}: the gate moved {stage} (revision {revision}) on evidence from "
                f"{firing['stage']} (revision {firing['revision']})"
            )
    return problems


def _route(table: dict[str, Any] | None) -> dict[str, Any] | None:
    routes = (table or {}).get("routes", [])
    return next((r for r in routes if r["path"] == "/api/catalog"), None)


def lost_writes(state: Path, created: list[str]) -> dict[str, int]:
    lost = {}
    for name in ("monolith.sqlite3", "catalog.sqlite3"):
        with closing(sqlite3.connect(state / name)) as db:
            present = {row[0] for row in db.execute("SELECT sku FROM catalog_product WHERE sku LIKE 'WALK-%'")}
        lost[name] = len(set(created) - present)
    return lost


def walk(state: Path, *, rate: float, stage_seconds: float, writes: float, products: int = 400) -> dict[str, Any]:
    """Run the walk; the report says what happened (see the module docstring for what `ok` requires)."""
    stack = start_stack(state, products)
    try:
        env = stack.env()
        admin = httpx.Client(
            base_url=env["STRANGLER_ADMIN_URL"],
            headers={"Authorization": f"Bearer {env['STRANGLER_ADMIN_TOKEN']}"},
            timeout=30,
        )
        public = f"http://{stack.proxy}"
        token = httpx.post(f"{public}/api/auth/token/", data={"username": "staff", "password": "strangler-staff"})
        category = httpx.get(f"{public}/api/catalog/categories/").json()["results"][0]["id"]
        page = httpx.get(f"{public}/api/catalog/products/", params={"page_size": 100}).json()["results"]
        version = admin.get("/routes").json()["version"]
        eager = {"path": "/api/catalog", "compare": EAGER_GATE, "reason": "walk: an eager gate", "author": "walk"}
        admin.post("/routes", json={**eager, "expected_version": version}).raise_for_status()
        load = Load(stack.proxy, rate, writes, token.json()["token"], category, [p["id"] for p in page])
        lanes = [threading.Thread(target=load.run, args=(i,), daemon=True) for i in range(THREADS)]
        started = time.monotonic()
        for lane in lanes:
            lane.start()
        steps: list[tuple[float, str]] = []

        def step(label: str, *args: str, ok: tuple[int, ...] = (0,)) -> None:
            strangler(env, *args, ok=ok)
            steps.append((round(time.monotonic() - started, 1), label))

        step("shadow", "routes", "set", "/api/catalog", "--stage", "shadow", "--reason", "walk: compare first")
        time.sleep(stage_seconds)
        step("verify", "data", "verify", SPEC)
        step("publish", "data", "publish", SPEC)
        step("canary 10%", "routes", "set", "/api/catalog", "--stage", "canary", "--percent", "10", "--reason", "walk")
        time.sleep(stage_seconds)
        step("canary 50%", "routes", "set", "/api/catalog", "--stage", "canary", "--percent", "50", "--reason", "walk")
        time.sleep(stage_seconds)
        step("cutover", "data", "cutover", SPEC)
        time.sleep(stage_seconds)
        step("rollback", "data", "rollback", SPEC)
        time.sleep(stage_seconds)
        step("cutover again", "data", "cutover", SPEC)
        time.sleep(stage_seconds)
        load.stop.set()
        for lane in lanes:
            lane.join(60)
        seconds = time.monotonic() - started
        verified = strangler(env, "data", "verify", SPEC, "--reverse", "--settle", "30", ok=(0, 8))
        deadline = time.monotonic() + 30
        while (lost := lost_writes(state, load.created)) != {"monolith.sqlite3": 0, "catalog.sqlite3": 0}:
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        routes = admin.get("/routes").json()["table"]["routes"]
        report = {
            "requests": load.sent,
            "seconds": round(seconds, 1),
            "rate": round(load.sent / seconds, 1),
            "statuses": dict(sorted(load.statuses.items())),
            "errors": dict(load.errors),
            "writes_acknowledged": len(load.created),
            "writes_lost": lost,
            "verify_clean": verified.returncode == 0,
            "steps": steps,
            "gate_firings": admin.get("/gates", params={"limit": 1000}).json()["firings"],
            "gate_moves_without_evidence": gate_moves_without_evidence(admin),
            "final_stage": _route({"routes": routes})["stage"] if routes else None,
        }
        admin.close()
    finally:
        stack.stop()
    failed = sum(n for status, n in report["statuses"].items() if status >= 500) + sum(report["errors"].values())
    report["ok"] = (
        failed == 0
        and not any(report["writes_lost"].values())
        and report["verify_clean"]
        and not report["gate_moves_without_evidence"]
        and report["final_stage"] == "live"
    )
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=120.0, help="requests per second offered, all clients together")
    parser.add_argument("--stage-seconds", type=float, default=8.0)
    parser.add_argument("--writes", type=float, default=0.15, help="share of requests that create a product")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strangler-walk-") as state:
        report = walk(Path(state), rate=args.rate, stage_seconds=args.stage_seconds, writes=args.writes)
    print(json.dumps(report, indent=2))
    print(
        f"{report['requests']} requests in {report['seconds']}s = {report['rate']} req/s (offered {args.rate}); "
        f"statuses {report['statuses']}; {report['writes_acknowledged']} writes acknowledged, "
        f"lost {report['writes_lost']}; gate firings {len(report['gate_firings'])}, "
        f"moves without evidence {len(report['gate_moves_without_evidence'])}"
    )
    return 0 if report["ok"] and report["rate"] >= 100 else 1


if __name__ == "__main__":
    sys.exit(main())
