"""Where a proxied request's time goes (not a test): the benchmark's proxy under cProfile while wrk loads it.

    .venv/bin/python bench/proxy/profile_hot_path.py [--connections 32] [--duration 10] [--top 30] [--out FILE]

The same setup as `run.py` (a static nginx upstream with one worker; the proxy as `strangler_target.py` serves,
stage `off`): wrk drives GETs through the proxy for `--duration` seconds, then the proxy stops and its profile is
printed, sorted by own time and by cumulative time, with the request count so that each line reads per request.
cProfile slows every Python call alike (C calls are counted once each), so the shares matter, not the seconds.
`profile_summary.md` next to this file is one such run, kept as the hot path's evidence.
"""

from __future__ import annotations

import argparse
import io
import os
import pstats
import subprocess
import sys
import tempfile
from pathlib import Path

from run import BODY, UPSTREAM_SERVER, free_port, nginx, wait_port, wrk

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--stage", default="off")
    parser.add_argument("--out", type=Path, help="also write the summary to this file")
    args = parser.parse_args()
    up, up2, port = free_port(), free_port(), free_port()
    stats_file = Path(tempfile.mkstemp(prefix="strangler-profile-", suffix=".prof")[1])
    servers = UPSTREAM_SERVER.format(port=up, body=BODY) + UPSTREAM_SERVER.format(port=up2, body=BODY)
    with nginx(servers):
        wait_port(up)
        proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "strangler_target.py"),
                str(port),
                f"http://127.0.0.1:{up}",
                f"http://127.0.0.1:{up2}",
                args.stage,
            ],
            env={**os.environ, "STRANGLER_BENCH_PROFILE": str(stats_file)},
        )
        try:
            wait_port(port)
            url = f"http://127.0.0.1:{port}/api/items/1"
            wrk(url, args.connections, 1)  # warm up
            rps, p50, p99, errors = wrk(url, args.connections, args.duration)
        finally:
            proc.terminate()
            proc.wait(30)
    requests = round(rps * max(1, round(args.duration))) + 1  # and the warm-up's, roughly
    out = io.StringIO()
    out.write(
        f"wrk -c{args.connections} under cProfile: {rps:,.0f} req/s (p50 {p50:.3f} ms, p99 {p99:.3f} ms, "
        f"errors {errors}), ≈{requests:,} requests profiled; load average {os.getloadavg()[0]:.2f}\n\n"
    )
    stats = pstats.Stats(str(stats_file))
    raw = stats.stats  # type: ignore[attr-defined]
    finished = next((v[0] for (f, _, n), v in raw.items() if f.endswith("app.py") and n == "_finish"), None)
    # The compiled hot path is invisible to cProfile (no `_finish` to count): then wrk's count is the request count.
    per_request = finished if finished is not None else requests
    counted_by = "counted by the app" if finished is not None else "by wrk: the app is compiled"
    total = sum(v[2] for v in raw.values())
    calls = sum(v[1] for v in raw.values())
    by_module: dict[str, float] = {}
    for (filename, _, _), value in raw.items():
        module = filename if filename.startswith("~") else Path(filename).name
        by_module[module] = by_module.get(module, 0.0) + value[2]
    out.write(
        f"{per_request:,} requests answered ({counted_by}); "
        f"per request: {calls / per_request:.2f} function calls (Python and C), "
        f"{total / per_request * 1e6:.0f} us of CPU under the profiler\n\n--- own CPU time by module ---\n"
    )
    for module, seconds in sorted(by_module.items(), key=lambda kv: -kv[1])[:20]:
        out.write(f"{seconds / total * 100:5.1f}%  {module}\n")
    out.write("\n")
    for order in ("tottime", "cumulative"):
        out.write(f"--- top {args.top} by {order} ---\n")
        stats = pstats.Stats(str(stats_file), stream=out)
        stats.strip_dirs().sort_stats(order).print_stats(args.top)
    stats_file.unlink()
    text = out.getvalue()
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
