"""Benchmark: the client's answer and latency through Strangler with comparison off and on.

    .venv/bin/python bench/proxy/compare.py [--duration 3] [--repeat 2] [--json]

Needs Debian's nginx and wrk. Two static nginx upstreams: the "monolith" and a "service" whose answer differs on
one field (a price formatted differently), so with comparison on every mirrored request is compared field by field,
counted as a net difference and (up to the per-minute cap) stored as a mismatch in SQLite: the comparator's most
expensive path. The route is in stage shadow in both runs, so the mirrors are the same; the only difference is the
comparator. Printed: the client's status and body with comparison off and on (they must be identical), and
req/s, p50, p99 saturated (32 connections) and at half load (half of the lower of the two saturated rates, the
same for both, paced with wrk's Lua `delay`, 8 connections), with the on/off ratios. Both proxies run side by
side and the runs alternate between them. Goal (issue 6): the
client's answer identical, p99 on/off <= 1.05x at half load.

This is a measurement, not a test: on a shared 2-core machine, wrk, the proxy and nginx compete for CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from run import UPSTREAM_SERVER, free_port, nginx, paced_script, wait_port, wrk

HERE = Path(__file__).resolve().parent
MONOLITH_BODY = '{"count":2,"results":[{"id":1,"name":"mug","price":"9.99"},{"id":2,"name":"tee","price":"15.00"}]}'
SERVICE_BODY = '{"count":2,"results":[{"id":1,"name":"mug","price":"9.99"},{"id":2,"name":"tee","price":"15"}]}'
HALF_CONNECTIONS = 8


@contextlib.contextmanager
def target(port: int, monolith: str, service: str, compare: bool, db: str) -> Iterator[list[str]]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "compare_target.py"), str(port), monolith, service, "1" if compare else "0", db],
        stderr=subprocess.PIPE,
        text=True,
    )
    summary: list[str] = []
    try:
        wait_port(port)
        yield summary
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
        summary.extend(line for line in err.splitlines() if line.startswith("compared="))


def answer(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a loopback URL we built
        return response.status, response.headers.get("content-type", ""), response.read().decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per wrk run (default 3)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement; the least disturbed counts")
    parser.add_argument("--rate", type=float, default=0, help="half-load rate in req/s (default: half of off's peak)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install -y nginx wrk")
    mono, svc = free_port(), free_port()
    ports = {"off": free_port(), "on": free_port()}
    servers = UPSTREAM_SERVER.format(port=mono, body=MONOLITH_BODY) + UPSTREAM_SERVER.format(
        port=svc, body=SERVICE_BODY
    )
    workdir = tempfile.mkdtemp(prefix="strangler-bench-compare-")
    urls = {mode: f"http://127.0.0.1:{port}/api/catalog/products" for mode, port in ports.items()}
    results: dict[str, dict[str, object]] = {}
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(nginx(servers))
            wait_port(mono)
            wait_port(svc)
            monolith, service = f"http://127.0.0.1:{mono}", f"http://127.0.0.1:{svc}"
            # Both proxies run side by side and the runs alternate (off, on, off, on, ...), so a burst of other work
            # on the machine hits both modes alike; the least disturbed run of each mode counts.
            summaries = {
                mode: stack.enter_context(
                    target(ports[mode], monolith, service, mode == "on", os.path.join(workdir, f"{mode}.sqlite3"))
                )
                for mode in ("off", "on")
            }
            answers = {mode: answer(url) for mode, url in urls.items()}
            for url in urls.values():
                wrk(url, 32, 1)  # warm up
            saturated: dict[str, list[tuple[float, float, float, int]]] = {"off": [], "on": []}
            for _ in range(args.repeat):
                for mode, url in urls.items():
                    saturated[mode].append(wrk(url, 32, args.duration))
            best = {mode: max(runs) for mode, runs in saturated.items()}
            # Half of the lower peak, for both: a paced load that neither mode is saturated by.
            rate = args.rate or min(m[0] for m in best.values()) / 2
            script = paced_script(rate / HALF_CONNECTIONS)
            half: dict[str, list[tuple[float, float, float, int]]] = {"off": [], "on": []}
            for _ in range(args.repeat):
                for mode, url in urls.items():
                    half[mode].append(wrk(url, HALF_CONNECTIONS, args.duration, script))
            os.unlink(script)
        for mode in ("off", "on"):
            h, s = min(half[mode], key=lambda m: m[2]), best[mode]
            results[mode] = {
                "answer": answers[mode],
                "half": {"rps": h[0], "p50_ms": h[1], "p99_ms": h[2], "errors": h[3]},
                "saturated": {"rps": s[0], "p50_ms": s[1], "p99_ms": s[2], "errors": s[3]},
                "half_p99_runs_ms": [m[2] for m in half[mode]],
                "saturated_rps_runs": [round(m[0]) for m in saturated[mode]],
                "comparator": summaries[mode][0] if summaries[mode] else "",
            }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    off, on = results["off"], results["on"]
    same = off["answer"] == on["answer"]
    print(f"client answer off: {off['answer'][0]} {off['answer'][1]} {off['answer'][2]}")
    print(f"client answer on:  {on['answer'][0]} {on['answer'][1]} {on['answer'][2]}")
    print(f"identical: {'yes' if same else 'NO'}")
    print(f"comparator (on, all runs): {on['comparator']}")
    print(f"half-load p99 per run (ms): off {off['half_p99_runs_ms']}  on {on['half_p99_runs_ms']}")
    print(f"saturated req/s per run:    off {off['saturated_rps_runs']}  on {on['saturated_rps_runs']}")
    print(
        f"\n{'load':<18} {'off req/s':>10} {'on req/s':>10} {'x':>6} {'off p50':>8} {'on p50':>8} {'off p99':>8} "
        f"{'on p99':>8} {'x':>6}"
    )
    ratios = {}
    for key, label in (("half", f"half ({rate:.0f}/s)"), ("saturated", "saturated (32)")):
        a, b = off[key], on[key]
        assert isinstance(a, dict) and isinstance(b, dict)
        r_rps = b["rps"] / a["rps"] if a["rps"] else 0.0
        r_p99 = b["p99_ms"] / a["p99_ms"] if a["p99_ms"] else 0.0
        ratios[key] = {"rps": r_rps, "p99": r_p99}
        print(
            f"{label:<18} {a['rps']:>10.0f} {b['rps']:>10.0f} {r_rps:>6.2f} {a['p50_ms']:>8.3f} {b['p50_ms']:>8.3f} "
            f"{a['p99_ms']:>8.3f} {b['p99_ms']:>8.3f} {r_p99:>6.2f}"
        )
    print("\ngoals:")
    print(f"  client answer identical with comparison on and off: {'met' if same else 'NOT met'}")
    half_p99 = ratios["half"]["p99"]
    print(f"  p99 on/off <= 1.05x at half load: {half_p99:.2f}x  {'met' if half_p99 <= 1.05 else 'NOT met'}")
    if args.json:
        print(json.dumps({"results": results, "ratios": ratios, "identical": same}, indent=2))


if __name__ == "__main__":
    main()
