"""Write-hold cost of the catalog's cutover and rollback on a running `make up` stack (not a test).

    .venv/bin/python tools/stack.py up &                      # or `make up` in another terminal
    .venv/bin/python bench/data/cutover_hold.py --state-dir .run --proxy-url http://127.0.0.1:8080 --cycles 5

Writers (staff, through the proxy) create and re-price products without pause on `--writers` connections while
the script runs `strangler data cutover` then `rollback` `--cycles` times. The waits are the proxy's own (the
admin API's DELETE /holds answer: how long each held request waited), the client-side failures are the writers'.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "migration-playbook" / "specs" / "catalog.toml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".run")
    parser.add_argument("--proxy-url", default="http://127.0.0.1:8080")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--cycles", type=int, default=5)
    args = parser.parse_args()
    state = args.state_dir.resolve()
    env = dict(os.environ)
    for line in (state / "cli.env").read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value
    databases = [
        "--source",
        f"sqlite:///{state / 'monolith.sqlite3'}",
        "--target",
        f"sqlite:///{state / 'catalog.sqlite3'}",
    ]
    token = httpx.post(
        f"{args.proxy_url}/api/auth/token/", data={"username": "staff", "password": "strangler-staff"}
    ).json()["token"]
    category = httpx.get(f"{args.proxy_url}/api/catalog/categories/").json()["results"][0]["id"]
    stop = threading.Event()
    outcomes: dict[int, int] = {}
    lock = threading.Lock()

    def write(lane: int) -> None:
        with httpx.Client(base_url=args.proxy_url, headers={"Authorization": f"Token {token}"}, timeout=30) as client:
            n = 0
            while not stop.is_set():
                n += 1
                sku = f"BENCH-{os.getpid()}-{lane}-{n}"
                answer = client.post(
                    "/api/catalog/products/",
                    json={"sku": sku, "name": sku, "slug": sku.lower(), "price": "9.50", "category": category},
                )
                with lock:
                    outcomes[answer.status_code] = outcomes.get(answer.status_code, 0) + 1

    workers = [threading.Thread(target=write, args=(i,), daemon=True) for i in range(args.writers)]
    for worker in workers:
        worker.start()
    time.sleep(1)
    waits: list[dict[str, object]] = []
    for cycle in range(args.cycles):
        for command in ("cutover", "rollback"):
            done = subprocess.run(
                [sys.executable, "-m", "strangler_playbook", command, str(SPEC), *databases, "--json"],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            report = json.loads(done.stdout)
            if done.returncode:
                print(f"{command} {cycle}: exit {done.returncode}: {report}")
                continue
            waits.append({"command": command, "hold_s": report["hold_seconds"], **report["hold_waits"]})
            print(json.dumps(waits[-1]))
            time.sleep(0.5)
    stop.set()
    for worker in workers:
        worker.join(30)
    p99s = [float(w["p99_ms"]) for w in waits if w.get("p99_ms") is not None]
    holds = [float(w["hold_s"]) for w in waits]
    print(f"writes answered: {dict(sorted(outcomes.items()))}")
    if p99s:
        print(
            f"hold p99 per handover: median {statistics.median(p99s):.1f} ms, max {max(p99s):.1f} ms; "
            f"hold duration median {statistics.median(holds) * 1000:.0f} ms over {len(holds)} handovers"
        )
    return 0 if set(outcomes) <= {201} else 1


if __name__ == "__main__":
    sys.exit(main())
