"""Benchmark: the proxy's CPU time per forwarded request, this checkout against another checkout's proxy (the
reference), measured in the same run.

    .venv/bin/python bench/proxy/cpu_per_request.py --reference-src DIR [--duration 5] [--repeat 3] [--json]
    .venv/bin/python bench/proxy/cpu_per_request.py --reference-checkout CHECKOUT [...]

`DIR` is another checkout's `proxy/src` (e.g. `git archive <commit> proxy/src | tar -x -C /tmp/before`), run by this
checkout's benchmark target. `CHECKOUT` is a whole other checkout (e.g. `git worktree add --detach /tmp/before
<commit>`), for one whose package layout differs from this one's: its own `bench/proxy/strangler_target.py` runs
its own `proxy/src`, with its `.venv` when it has one (`make venv` there). Both
proxies (`strangler_target.py`, one process each, stage `off`) forward to the same nginx upstream over keep-alive
connections; wrk drives each in turn, interleaved, `--repeat` times. The CPU a proxy process used (user + system,
from /proc) divided by the requests it answered is its cost per request; the best of the runs counts. Printed:
µs per request and req/s for each, and the ratio this/reference. Needs Debian's nginx and wrk; a measurement, not a
test: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import BODY, UPSTREAM_SERVER, free_port, nginx, wait_port, wrk  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    reference = parser.add_mutually_exclusive_group(required=True)
    reference.add_argument("--reference-src", type=Path, help="the reference checkout's proxy/src")
    reference.add_argument(
        "--reference-checkout", type=Path, help="a whole reference checkout, run with its own benchmark target"
    )
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    up = free_port()
    ports = {"this": free_port(), "reference": free_port()}
    if options.reference_checkout is not None:
        checkout = options.reference_checkout.resolve()
        src, target = checkout / "proxy" / "src", checkout / "bench" / "proxy" / "strangler_target.py"
        python = checkout / ".venv" / "bin" / "python"
        reference_python = str(python) if python.exists() else sys.executable
    else:
        src, target, reference_python = options.reference_src.resolve(), HERE / "strangler_target.py", sys.executable
    envs = {"this": dict(os.environ), "reference": {**os.environ, "PYTHONPATH": str(src)}}
    commands = {
        "this": [sys.executable, str(HERE / "strangler_target.py")],
        "reference": [reference_python, str(target)],
    }
    best: dict[str, tuple[float, float]] = {}
    with nginx(UPSTREAM_SERVER.format(port=up, body=BODY)):
        wait_port(up)
        procs = {
            name: subprocess.Popen(
                [
                    *commands[name],
                    str(port),
                    f"http://127.0.0.1:{up}",
                    "http://x:1",
                    "off",
                ],
                env=envs[name],
                stderr=subprocess.DEVNULL,
            )
            for name, port in ports.items()
        }
        try:
            for port in ports.values():
                wait_port(port)
            urls = {name: f"http://127.0.0.1:{port}/api/items/1" for name, port in ports.items()}
            for url in urls.values():
                wrk(url, options.connections, 1)  # warm up
            for _ in range(options.repeat):
                for name, url in urls.items():
                    before = cpu_seconds(procs[name].pid)
                    rps, _, _, _ = wrk(url, options.connections, options.duration)
                    used = cpu_seconds(procs[name].pid) - before
                    per_request = used / (rps * max(1, round(options.duration))) * 1e6
                    if name not in best or per_request < best[name][0]:
                        best[name] = (per_request, rps)
        finally:
            for proc in procs.values():
                proc.terminate()
                proc.wait(10)
    ratio = best["this"][0] / best["reference"][0]
    figures = {
        "us_cpu_per_request": {name: round(b[0], 1) for name, b in best.items()},
        "rps": {name: round(b[1]) for name, b in best.items()},
        "ratio_this_to_reference": round(ratio, 3),
        "load_average": os.getloadavg()[0],
    }
    if options.json:
        print(json.dumps(figures))
        return
    for name, (per_request, rps) in best.items():
        print(f"{name:10} {per_request:7.1f} µs CPU per request   {rps:9.0f} req/s")
    print(f"this / reference: {ratio:.3f} (CPU per request; < 1 is cheaper)")


if __name__ == "__main__":
    main()
