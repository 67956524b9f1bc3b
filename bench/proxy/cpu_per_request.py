"""Benchmark: the proxy's CPU time per forwarded request and its throughput, this checkout against another checkout's
proxy (the reference), measured in the same run, interleaved.

    .venv/bin/python bench/proxy/cpu_per_request.py --reference-src DIR [--duration 3] [--repeat 10] [--json]
    .venv/bin/python bench/proxy/cpu_per_request.py --reference-checkout CHECKOUT [...]

`DIR` is another checkout's `proxy/src` (e.g. `git archive <commit> proxy/src | tar -x -C /tmp/before`), run by this
checkout's benchmark target. `CHECKOUT` is a whole other checkout (e.g. `git worktree add --detach /tmp/before
<commit>`), for one whose package layout differs from this one's: its own `bench/proxy/strangler_target.py` runs
its own `proxy/src`, with its `.venv` when it has one (`make venv` there). Both proxies (`strangler_target.py`, one
process each, stage `off`) forward to the same nginx upstream over keep-alive connections.

Method, for a shared machine whose load swings by more than the difference sought: `--repeat` pairs of wrk runs,
one on each proxy back to back (in alternating order: ABBA...), so a burst of other work hits both runs of a pair
alike. Per run: the CPU the proxy process used (user + system, from /proc) divided by the requests wrk counted,
and wrk's req/s. Per pair: the ratios this / reference. Printed: the median of each figure, and the median ratio
with its spread (the middle half of the pairs' ratios, and their range). The median of many paired ratios holds
still where one run's figure swings by ±15 %; for an exact count of the proxy's own work, independent of the load,
see `instructions_per_request.py`. Needs Debian's nginx and wrk; a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import reference  # noqa: E402
from run import BODY, UPSTREAM_SERVER, free_port, nginx, wait_port  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def wrk_run(url: str, connections: int, duration: float) -> tuple[int, float]:
    """One wrk run: the requests it counted and its req/s."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "5s", url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return requests, rps


def spread(values: list[float]) -> dict[str, float]:
    """Median, the middle half (quartiles) and the range of `values`."""
    ordered = sorted(values)
    quartiles = statistics.quantiles(ordered, n=4, method="inclusive") if len(ordered) > 1 else [ordered[0]] * 3
    return {
        "median": round(statistics.median(ordered), 4),
        "q1": round(quartiles[0], 4),
        "q3": round(quartiles[2], 4),
        "min": round(ordered[0], 4),
        "max": round(ordered[-1], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    reference.add_arguments(parser)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per wrk run (default 3)")
    parser.add_argument("--repeat", type=int, default=10, help="pairs of runs (default 10)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    up = free_port()
    ports = {"this": free_port(), "reference": free_port()}
    commands, envs = setup = reference.proxies(options, os.environ)
    built = reference.builds(setup)
    for which, build in built.items():
        print(f"{which:<13} runs the {build}", file=sys.stderr if options.json else sys.stdout)
    cpu: dict[str, list[float]] = {name: [] for name in ports}
    rps: dict[str, list[float]] = {name: [] for name in ports}
    load = [os.getloadavg()[0]]
    with nginx(UPSTREAM_SERVER.format(port=up, body=BODY)):
        wait_port(up)
        procs = {
            name: subprocess.Popen(
                [*commands[name], str(port), f"http://127.0.0.1:{up}", "http://x:1", "off"],
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
                wrk_run(url, options.connections, 1)  # warm up
            names = list(urls)
            for i in range(options.repeat):
                for name in names if i % 2 == 0 else names[::-1]:
                    before = cpu_seconds(procs[name].pid)
                    requests, speed = wrk_run(urls[name], options.connections, options.duration)
                    cpu[name].append((cpu_seconds(procs[name].pid) - before) / requests * 1e6)
                    rps[name].append(speed)
            load.append(os.getloadavg()[0])
        finally:
            for proc in procs.values():
                proc.terminate()
                proc.wait(10)
    cpu_ratios = [a / b for a, b in zip(cpu["this"], cpu["reference"], strict=True)]
    rps_ratios = [a / b for a, b in zip(rps["this"], rps["reference"], strict=True)]
    figures = {
        "us_cpu_per_request": {name: round(statistics.median(v), 1) for name, v in cpu.items()},
        "rps": {name: round(statistics.median(v)) for name, v in rps.items()},
        "cpu_ratio_this_to_reference": spread(cpu_ratios),
        "rps_ratio_this_to_reference": spread(rps_ratios),
        "pairs": options.repeat,
        "seconds_per_run": max(1, round(options.duration)),
        "connections": options.connections,
        "load_average": {"before": load[0], "after": load[-1]},
    }
    if options.json:
        print(json.dumps({**figures, "builds": built}))
        return
    print(
        f"{options.repeat} pairs of {max(1, round(options.duration))} s runs, {options.connections} connections;"
        f" 1-minute load average {load[0]:.2f} before, {load[-1]:.2f} after"
    )
    for name in ports:
        print(
            f"{name:10} {statistics.median(cpu[name]):7.1f} µs CPU per request   "
            f"{statistics.median(rps[name]):9.0f} req/s   (medians)"
        )
    for label, values in (("CPU per request", cpu_ratios), ("req/s", rps_ratios)):
        s = spread(values)
        print(
            f"this / reference, {label}: median {s['median']:.3f}  (middle half {s['q1']:.3f}-{s['q3']:.3f},"
            f" range {s['min']:.3f}-{s['max']:.3f})"
        )


if __name__ == "__main__":
    main()
