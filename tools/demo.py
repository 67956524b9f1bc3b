#!/usr/bin/env python3
"""`make demo`: a stack of its own with clients on it, and the catalog walked shadow → canary 10% → canary 50% →
cutover → rollback → cutover while the operator console shows it moving.

    make demo                                   # pauses of 20 s: time to look at each step in the console
    DEMO_PAUSE=3 make demo                      # the same, quickly
    .venv/bin/python tools/demo.py --screenshots docs/console   # also saves console screenshots there

It starts `tools/stack.py up` on free ports and a temporary state directory (DEMO_STATE keeps it), then runs the
walk's clients (bench/walk/walk_under_load.py: readers, a fifth of them signed in, and staff creating products,
DEMO_RATE requests a second in all) plus DEMO_STICKY clients that each read with their own `X-Demo-Client`
header, the route's sticky key. In shadow it changes one product's price in the service's own database (drift: a
write that bypassed the sync), waits until the comparison stores the mismatch, then verify finds it and `strangler
data repair` mends it before canary. At each step it prints what happens and where to look in the console, and at the
end a summary: requests, failures, writes acknowledged and lost, verify, and which side each sticky client was on.
Exit 0 only when no request failed, no acknowledged write was lost and verify is clean.
"""

from __future__ import annotations

import argparse
import http.client
import os
import sqlite3
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench" / "walk"))

from walk_under_load import SPEC, THREADS, Load, lost_writes, start_stack, strangler  # noqa: E402

ROUTE = "/api/catalog"
STICKY_HEADER = "x-demo-client"


@dataclass
class StickyClients:
    """Clients that each read with their own sticky key and note which side answered them at every step."""

    host: str
    products: list[int]
    count: int
    step: str = "off"
    stop: threading.Event = field(default_factory=threading.Event)
    seen: dict[str, dict[str, Counter[str]]] = field(default_factory=dict)  # client -> step -> upstream -> n
    failures: int = 0
    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self._run, args=(f"client-{i + 1}",), daemon=True) for i in range(self.count)
        ]
        for thread in threads:
            thread.start()
        return threads

    def _run(self, name: str) -> None:
        conn = http.client.HTTPConnection(*self.host.split(":"), timeout=30)
        n = 0
        while not self.stop.wait(0.25):
            n += 1
            step = self.step
            headers = {"Host": self.host, "Accept": "application/json", STICKY_HEADER: name}
            try:
                conn.request("GET", f"{ROUTE}/products/{self.products[n % len(self.products)]}/", headers=headers)
                answer = conn.getresponse()
                answer.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(*self.host.split(":"), timeout=30)
                with self.lock:
                    self.sent += 1
                    self.failures += 1
                continue
            with self.lock:
                self.sent += 1
                if answer.status >= 500:  # a failure, whoever produced it: counted, not a side
                    self.failures += 1
                    continue
                side = answer.getheader("x-strangler-upstream") or "?"
                self.seen.setdefault(name, {}).setdefault(step, Counter())[side] += 1
        conn.close()

    def table(self, steps: list[str]) -> list[str]:
        lines = []
        for name in sorted(self.seen, key=lambda n: int(n.split("-")[1])):
            cells = []
            for step in steps:
                sides = self.seen[name].get(step, Counter())
                cells.append(f"{step}: " + ("+".join(f"{s} {n}" for s, n in sides.most_common()) or "-"))
            lines.append(f"  {name:<9} " + " | ".join(cells))
        return lines


def drift(state: Path, product_id: int, price: str = "1.23") -> None:
    """A price fixed by hand in the service's own database: a write that bypassed the sync (drift)."""
    with closing(sqlite3.connect(state / "catalog.sqlite3")) as db, db:
        db.execute("UPDATE catalog_product SET price = ? WHERE id = ?", (price, product_id))


class Demo:
    def __init__(self, state: Path, *, pause: float, rate: float, sticky: int, screenshots: Path | None) -> None:
        self.state = state
        self.pause = pause
        self.rate = rate
        self.sticky_count = sticky
        self.screenshots = screenshots
        self.started = time.monotonic()
        self.steps: list[str] = []

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {text}", flush=True)

    def run(self) -> int:
        self.say(f"starting the stack (monolith, catalog service, sync, proxy) in {self.state} ...")
        stack = start_stack(self.state, products=400)
        try:
            return self._walk(stack)
        finally:
            self.say("stopping the stack")
            stack.stop()

    def _walk(self, stack: Any) -> int:
        env = stack.env()
        admin_url = env["STRANGLER_ADMIN_URL"]
        console = f"{admin_url}/console/"
        public = f"http://{stack.proxy}"
        self.say(f"the shop, through Strangler: {public}/api/catalog/products/")
        self.say(f"the operator console:        {console}")
        self.say(f"  log in with the admin token: grep STRANGLER_ADMIN_TOKEN {self.state / 'cli.env'}")
        token = httpx.post(f"{public}/api/auth/token/", data={"username": "staff", "password": "strangler-staff"})
        category = httpx.get(f"{public}/api/catalog/categories/").json()["results"][0]["id"]
        page = httpx.get(f"{public}/api/catalog/products/", params={"page_size": 100}).json()["results"]
        products = [p["id"] for p in page]

        def cli(*args: str, ok: tuple[int, ...] = (0,)) -> str:
            ran = strangler(env, *args, ok=ok)
            return (ran.stdout + ran.stderr).strip()

        cli(
            "routes",
            "set",
            ROUTE,
            "--sticky",
            f"header:{STICKY_HEADER}",
            "--upstream-header",
            "--reason",
            "demo: each client keeps its side by its X-Demo-Client header",
        )
        load = Load(stack.proxy, self.rate, 0.15, token.json()["token"], category, products)
        lanes = [threading.Thread(target=load.run, args=(i,), daemon=True) for i in range(THREADS)]
        for lane in lanes:
            lane.start()
        sticky = StickyClients(stack.proxy, products, self.sticky_count)
        sticky_threads = sticky.start()
        self.say(
            f"clients started: {self.rate:g} requests/s (15% writes by staff) and {self.sticky_count} sticky readers"
        )

        def step(name: str, what: str, look: str, *args: str) -> None:
            self.steps.append(name)
            self.say(f"==> {name}: {what}")
            sticky.step = "moving"  # answers while the command runs belong to neither step
            if args:
                out = cli(*args)
                for line in out.splitlines()[-4:]:
                    print(f"           {line}", flush=True)
            sticky.step = name
            self.say(f"    look: {look}")
            time.sleep(self.pause)

        step(
            "off",
            "every request goes to the monolith; the catalog's data is copied and kept in sync",
            f"{console} (the catalog route: stage off, traffic bar all monolith)",
        )
        step(
            "shadow",
            "the monolith still answers; each read is mirrored to the service and the answers compared",
            f"{console}route?path={ROUTE} (Comparison: compared requests, differing fields)",
            *("routes", "set", ROUTE, "--stage", "shadow", "--reason", "demo: compare first"),
        )
        self.say(
            f"==> drift: someone fixes the price of product {products[0]} by hand in the service's database (a "
            "write that bypassed the sync); shadow compares every read of it: a diff on $.price"
        )
        drift(self.state, products[0])
        self._wait_for_a_mismatch(admin_url, env["STRANGLER_ADMIN_TOKEN"])
        self.say(f"    look: {console}diffs (grouped by endpoint and field; open one: both answers side by side)")
        if self.screenshots is not None:
            self._shoot(console, env["STRANGLER_ADMIN_TOKEN"], ["diff"])
        time.sleep(self.pause)
        self.say("==> verify, repair, publish: verify finds the drifted row; repair gives it the owner's version")
        sticky.step = "moving"
        found = strangler(env, "data", "verify", SPEC, ok=(0, 8))
        self.say(f"    verify: exit {found.returncode} ({'differences' if found.returncode == 8 else 'clean'})")
        cli("data", "repair", SPEC)
        cli("data", "verify", SPEC)
        cli("data", "publish", SPEC)
        self.say("    verify clean and published: the proxy lets the route into canary now")
        step(
            "canary 10%",
            "a tenth of the clients (by their sticky key) read from the service; writes stay on the monolith",
            f"{console}route?path={ROUTE} (requests/s and p50/p99 per upstream, the service appears)",
            "routes",
            "set",
            ROUTE,
            "--stage",
            "canary",
            "--percent",
            "10",
            "--reason",
            "demo: 10% of readers",
        )
        step(
            "canary 50%",
            "half the clients; those already on the service stay there (monotonic buckets)",
            f"{console} (the traffic bar: about half service)",
            "routes",
            "set",
            ROUTE,
            "--stage",
            "canary",
            "--percent",
            "50",
            "--reason",
            "demo: half the readers",
        )
        if self.screenshots is not None:
            self._shoot(console, env["STRANGLER_ADMIN_TOKEN"], ["overview", "route"])
        step(
            "cutover",
            "writes held for a moment, sync drained, verified, ownership flipped, route live, writes released",
            f"{console}cutover (the steps with their timings and the requests held)",
            "data",
            "cutover",
            SPEC,
        )
        step(
            "rollback",
            "the mirror image: writes held, the reverse sync drained, the monolith owns the data again",
            f"{console}cutover and {console} (back to canary 50%)",
            "data",
            "rollback",
            SPEC,
        )
        step("cutover again", "and forward again, losing nothing", f"{console}cutover", "data", "cutover", SPEC)

        sticky.step = "moving"
        load.stop.set()
        sticky.stop.set()
        for thread in [*lanes, *sticky_threads]:
            thread.join(60)
        self.say("clients stopped; verifying both databases (the service owns the data now)")
        verified = strangler(env, "data", "verify", SPEC, "--reverse", "--settle", "30", ok=(0, 8))
        deadline = time.monotonic() + 30
        while any((lost := lost_writes(self.state, load.created)).values()) and time.monotonic() < deadline:
            time.sleep(0.5)
        failed = sum(n for status, n in load.statuses.items() if status >= 500) + sum(load.errors.values())
        failed += sticky.failures
        requests = load.sent + sticky.sent
        clean = verified.returncode == 0
        print("\n==================== summary ====================", flush=True)
        print(f"requests:  {requests} ({load.sent} readers and writers, {sticky.sent} sticky readers)")
        print(f"failures:  {failed} (5xx or no answer); statuses {dict(sorted(load.statuses.items()))}")
        print(f"writes:    {len(load.created)} acknowledged, lost: {sum(lost.values())} {lost}")
        print(f"verify:    {'clean' if clean else 'DIFFERENCES'} (service → monolith, after the last cutover)")
        print("sticky clients (which side answered, per step):")
        print("\n".join(sticky.table(self.steps)))
        print(f"console:   {console} (until the stack stops)", flush=True)
        return 0 if failed == 0 and not any(lost.values()) and clean else 1

    def _wait_for_a_mismatch(self, admin_url: str, token: str) -> None:
        """Until a read of the drifted product was mirrored, compared and stored as a mismatch."""
        headers = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 120
        while not httpx.get(f"{admin_url}/diffs", headers=headers, timeout=30).json()["mismatches"]:
            if time.monotonic() > deadline:
                raise RuntimeError("no mismatch was stored in two minutes of shadow")
            time.sleep(0.5)

    def _shoot(self, console: str, token: str, pages: list[str]) -> None:
        """Console screenshots from this real stack, for the README: `overview`, `route`, `diff`."""
        from playwright.sync_api import sync_playwright

        assert self.screenshots is not None
        self.screenshots.mkdir(parents=True, exist_ok=True)
        chromium = os.environ.get("STRANGLER_TEST_CHROMIUM", "/usr/bin/chromium")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(console)
            page.fill("#token", token)
            page.fill("#name", "demo")
            page.click("#login")
            page.wait_for_url(console)
            if "overview" in pages:
                page.locator(f'tr[data-route="{ROUTE}"]').wait_for()
                page.wait_for_timeout(1500)
                page.screenshot(path=str(self.screenshots / "overview.png"))
            if "route" in pages:
                page.goto(f"{console}route?path={ROUTE}")
                page.wait_for_selector("#stage option", state="attached")
                page.wait_for_timeout(1500)
                page.screenshot(path=str(self.screenshots / "route.png"), full_page=True)
            if "diff" in pages:
                page.goto(f"{console}diffs")
                page.locator("#mismatches a.mismatch").first.click()
                page.locator("#diff-title").wait_for()
                page.screenshot(path=str(self.screenshots / "diff.png"), full_page=True)
            browser.close()
        self.say(f"    screenshots of the {', '.join(pages)} saved in {self.screenshots}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--screenshots", type=Path, help="save console screenshots (overview, route, diff) here")
    args = parser.parse_args()
    pause = float(os.environ.get("DEMO_PAUSE", "20"))
    rate = float(os.environ.get("DEMO_RATE", "60"))
    sticky = int(os.environ.get("DEMO_STICKY", "6"))
    kept = os.environ.get("DEMO_STATE")
    if kept:
        Path(kept).mkdir(parents=True, exist_ok=True)
        return Demo(Path(kept), pause=pause, rate=rate, sticky=sticky, screenshots=args.screenshots).run()
    with tempfile.TemporaryDirectory(prefix="strangler-demo-") as state:
        return Demo(Path(state), pause=pause, rate=rate, sticky=sticky, screenshots=args.screenshots).run()


if __name__ == "__main__":
    sys.exit(main())
