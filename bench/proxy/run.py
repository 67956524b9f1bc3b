"""Benchmark: a fast upstream direct, through nginx (1 worker) and through Strangler (1 worker), with wrk; then
1 vs 2 workers of each (`workers.py`: Strangler's workers are replicas on one PostgreSQL store).

    make bench-proxy            # or: .venv/bin/python bench/proxy/run.py [--duration 5] [--json]

Needs Debian's nginx and wrk on PATH. The upstream is nginx itself answering a small static response (so the
upstream costs as little CPU as possible), in its own process with one worker. For every concurrency it prints
req/s, p50 and p99 latency per target and the ratios to nginx, then:

* added p50 with one request in flight (wrk -c1), and at half load: wrk at a fixed rate (half of Strangler's
  measured maximum, paced with wrk's Lua `delay`) against the upstream direct and through each proxy; the
  difference of the p50s is what the proxy adds;
* shadow on vs off: the same route in stage `off` and in stage `shadow` (every GET mirrored to a second upstream),
  p99 and req/s compared at half load (the goal) and saturated at 32 connections (where mirrors, which run on
  the same event loop, necessarily take CPU from client traffic).

This is a measurement, not a test: on a shared 2-core machine, wrk, the proxy and the upstream compete for CPU.
Run it when the machine is quiet. Each figure is the best of `--repeat` runs (interleaved across targets, so a
burst of other work does not decide a comparison): highest req/s when saturated, lowest p50 (p99 for shadow)
when paced; the throughput ratio to nginx is also given as the median of the rounds' ratios (each round runs
both back to back). Goals (issue 3): >= 0.5x nginx req/s; added p50 <= 0.5 ms at half load;
shadow on/off p99 <= 1.05x.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
BODY = '{"id":1,"name":"fast upstream","price":"9.99"}'


@dataclass
class Result:
    target: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port} after {timeout}s")


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
{user}
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    {servers}
}}
"""

UPSTREAM_SERVER = """
    server {{
        listen 127.0.0.1:{port} reuseport;
        location / {{ default_type application/json; return 200 '{body}'; }}
    }}
"""

PROXY_SERVER = """
    upstream fast {{ server 127.0.0.1:{upstream}; keepalive 256; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://fast;
            proxy_request_buffering on;  # nginx's default, stated: Strangler buffers small request bodies too
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
"""


@contextlib.contextmanager
def nginx(servers: str, workers: int = 1) -> Iterator[int]:
    """nginx with the benchmark's configuration around `servers` and `workers` workers; yields the master's pid."""
    with nginx_conf(lambda prefix: NGINX_CONF.format(prefix=prefix, servers=servers, user=_user()), workers) as pid:
        yield pid


@contextlib.contextmanager
def nginx_conf(render: Callable[[str], str], workers: int = 1, *extra: str) -> Iterator[int]:
    """nginx on a whole nginx.conf, `render(prefix)`, in a scratch prefix of its own (`extra` arguments after `-c`)."""
    prefix = tempfile.mkdtemp(prefix="strangler-bench-nginx-")
    conf = Path(prefix) / "nginx.conf"
    conf.write_text(render(prefix).replace("worker_processes 1;", f"worker_processes {workers};"))
    proc = subprocess.Popen(["nginx", "-p", prefix, "-c", str(conf), *extra], stderr=subprocess.DEVNULL)
    try:
        yield proc.pid
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(prefix, ignore_errors=True)


def _user() -> str:
    return "user root;" if os.geteuid() == 0 else ""


@contextlib.contextmanager
def strangler(port: int, monolith: str, service: str, stage: str) -> Iterator[int]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "strangler_target.py"), str(port), monolith, service, stage],
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        yield proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if m is None:
        raise ValueError(text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(url: str, connections: int, duration: float, script: str | None = None) -> tuple[float, float, float, int]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", "--timeout", "5s"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = 0
    for m in re.finditer(r"(?:Non-2xx or 3xx responses|Socket errors: .*?timeout)\s*:?\s*(\d+)", out):
        errors += int(m.group(1))
    return rps, p50, p99, errors


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of `pid` and its children (nginx's workers), from /proc."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def cpu_per_request(url: str, connections: int, duration: float, pids: dict[str, int]) -> dict[str, float]:
    """One wrk run; each process's CPU microseconds per request answered: what caps throughput on a core of one's
    own (a busy machine raises it too: fewer requests share each wake-up)."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {name: (cpu_seconds(pid) - before[name]) / requests * 1e6 for name, pid in pids.items()}


def post_script(size: int = 1024) -> str:
    """wrk's Lua for POSTs of a `size`-byte JSON body: what request buffering (nginx's and Strangler's) costs."""
    body = '{"data":"' + "x" * (size - 11) + '"}'
    path = Path(tempfile.mkstemp(prefix="strangler-bench-post-", suffix=".lua")[1])
    path.write_text(f'wrk.method = "POST"\nwrk.body = \'{body}\'\nwrk.headers["Content-Type"] = "application/json"\n')
    return str(path)


def paced_script(rate_per_connection: float) -> str:
    path = Path(tempfile.mkstemp(prefix="strangler-bench-", suffix=".lua")[1])
    path.write_text(f"function delay() return {max(1000.0 / rate_per_connection, 0.0):.3f} end\n")
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per wrk run (default 3)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs per measurement, interleaved across targets; the best counts (and the median of the rounds' ratios)",
    )
    parser.add_argument("--connections", default="8,32,128", help="comma-separated concurrencies")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    parser.add_argument("--monolith", help="also measure a running monolith (base URL) direct vs through Strangler")
    parser.add_argument(
        "--monolith-path",
        default="/api/catalog/categories/",
        help="the path to request on the monolith (default /api/catalog/categories/)",
    )
    parser.add_argument(
        "--no-monolith", action="store_true", help="skip the real monolith (else a `make up` stack of its own)"
    )
    args = parser.parse_args()
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install -y nginx wrk")
    conns = [int(c) for c in args.connections.split(",")]
    load_before = os.getloadavg()[0]
    up, up2, ngx, strg = free_port(), free_port(), free_port(), free_port()
    servers = (
        UPSTREAM_SERVER.format(port=up, body=BODY)
        + UPSTREAM_SERVER.format(port=up2, body=BODY)
        + PROXY_SERVER.format(port=ngx, upstream=up)
    )
    results: list[Result] = []
    # Strangler's req/s over nginx's in each round (the two measured back to back), by concurrency: their median is
    # printed beside the ratio of the best runs.
    round_ratios: dict[int, list[float]] = {}
    extra: dict[str, object] = {}
    with nginx(servers) as nginx_pid:
        wait_port(up)
        wait_port(ngx)
        targets = {"direct": f"http://127.0.0.1:{up}/api/items/1", "nginx": f"http://127.0.0.1:{ngx}/api/items/1"}
        with strangler(strg, f"http://127.0.0.1:{up}", f"http://127.0.0.1:{up2}", "off") as strangler_pid:
            targets["strangler"] = f"http://127.0.0.1:{strg}/api/items/1"
            for url in targets.values():
                wrk(url, 32, 1)  # warm up connections and caches
            for c in conns:
                runs: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name in targets}
                for _ in range(args.repeat):
                    for name, url in targets.items():
                        runs[name].append(wrk(url, c, args.duration))
                for name, measured in runs.items():
                    rps, p50, p99, errors = max(measured)  # the run least disturbed by other work on the machine
                    results.append(Result(name, c, rps, p50, p99, errors))
                round_ratios[c] = [s[0] / n[0] for s, n in zip(runs["strangler"], runs["nginx"], strict=True) if n[0]]
            pids = {"nginx": nginx_pid, "strangler": strangler_pid}
            cpu_runs = {
                name: [cpu_per_request(url, 32, args.duration, pids) for _ in range(args.repeat)]
                for name, url in targets.items()
            }
            cpu = {name: min(runs, key=lambda r: sum(r.values())) for name, runs in cpu_runs.items()}
            extra["cpu_us_per_request_32"] = cpu
            posting = post_script()
            post_runs: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name in targets}
            for _ in range(args.repeat):
                for name, url in targets.items():
                    post_runs[name].append(wrk(url, 32, args.duration, posting))
            os.unlink(posting)
            post = {name: max(measured) for name, measured in post_runs.items()}
            extra["post_1k_32"] = {n: {"rps": v[0], "p50_ms": v[1], "p99_ms": v[2]} for n, v in post.items()}
            peak = max(r.rps for r in results if r.target == "strangler")
            half_conns = 8
            script = paced_script(peak / 2 / half_conns)
            half_runs: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name in targets}
            for _ in range(args.repeat):
                for name, url in targets.items():
                    half_runs[name].append(wrk(url, half_conns, args.duration, script))
            half = {name: min(measured, key=lambda m: m[1]) for name, measured in half_runs.items()}
            single_runs: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name in targets}
            for _ in range(args.repeat):
                for name, url in targets.items():
                    single_runs[name].append(wrk(url, 1, args.duration))
            single = {name: min(measured, key=lambda m: m[1]) for name, measured in single_runs.items()}
            extra["one_in_flight"] = {n: {"rps": v[0], "p50_ms": v[1], "p99_ms": v[2]} for n, v in single.items()}
            extra["half_load_rps_target"] = round(peak / 2)
            extra["half_load"] = {n: {"rps": v[0], "p50_ms": v[1], "p99_ms": v[2]} for n, v in half.items()}
            off_paced = min(
                (wrk(targets["strangler"], half_conns, args.duration, script) for _ in range(args.repeat)),
                key=lambda m: m[2],
            )
            off = max(wrk(targets["strangler"], 32, args.duration) for _ in range(args.repeat))
        with strangler(strg, f"http://127.0.0.1:{up}", f"http://127.0.0.1:{up2}", "shadow"):
            url = f"http://127.0.0.1:{strg}/api/items/1"
            wrk(url, 32, 1)
            on_paced = min(
                (wrk(url, half_conns, args.duration, script) for _ in range(args.repeat)), key=lambda m: m[2]
            )
            on = max(wrk(url, 32, args.duration) for _ in range(args.repeat))
        os.unlink(script)
        extra["shadow"] = {
            "half_load": {
                "off": {"rps": off_paced[0], "p99_ms": off_paced[2]},
                "on": {"rps": on_paced[0], "p99_ms": on_paced[2]},
            },
            "saturated_32": {"off": {"rps": off[0], "p99_ms": off[2]}, "on": {"rps": on[0], "p99_ms": on[2]}},
        }

    print(
        f"machine: {os.cpu_count()} CPUs, 1-minute load average {load_before:.2f} before, {os.getloadavg()[0]:.2f}"
        f" after; best of {args.repeat} runs of {max(1, round(args.duration))} s each\n"
    )
    print(
        f"{'target':<10} {'conns':>5} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'x nginx':>8} {'errors':>6}"
        "   (x nginx: best runs' ratio; median of the rounds' ratios)"
    )
    for r in results:
        nginx_rps = next(x.rps for x in results if x.target == "nginx" and x.connections == r.connections)
        ratio = r.rps / nginx_rps if nginx_rps else 0
        median = f"   median {statistics.median(round_ratios[r.connections]):.2f}" if r.target == "strangler" else ""
        print(
            f"{r.target:<10} {r.connections:>5} {r.rps:>10.0f} {r.p50_ms:>8.3f} {r.p99_ms:>8.3f}"
            f" {ratio:>8.2f} {r.errors:>6}{median}"
        )
    extra["strangler_over_nginx_median_of_rounds"] = {c: statistics.median(v) for c, v in round_ratios.items()}
    best_ratio = max(
        r.rps / next(x.rps for x in results if x.target == "nginx" and x.connections == r.connections)
        for r in results
        if r.target == "strangler"
    )
    d = half["direct"][1]
    print(f"\nhalf load (~{extra['half_load_rps_target']} req/s, {half_conns} connections, paced):")
    for name, (rps, p50, p99, _) in half.items():
        added = "" if name == "direct" else f"  added p50 {p50 - d:+.3f} ms"
        print(f"  {name:<10} {rps:>8.0f} req/s  p50 {p50:.3f} ms  p99 {p99:.3f} ms{added}")
    print("\none request in flight (wrk -c1): the latency a proxy adds when nothing queues:")
    for name, (rps, p50, p99, _) in single.items():
        added = "" if name == "direct" else f"  added p50 {p50 - single['direct'][1]:+.3f} ms"
        print(f"  {name:<10} {rps:>8.0f} req/s  p50 {p50:.3f} ms  p99 {p99:.3f} ms{added}")
    ratio99 = on_paced[2] / off_paced[2] if off_paced[2] else float("inf")
    print("\nshadow (every GET mirrored to a second upstream) off vs on:")
    print(
        f"  half load:      off {off_paced[0]:.0f} req/s p99 {off_paced[2]:.3f} ms;"
        f" on {on_paced[0]:.0f} req/s p99 {on_paced[2]:.3f} ms"
    )
    print(f"  saturated (32): off {off[0]:.0f} req/s p99 {off[2]:.3f} ms; on {on[0]:.0f} req/s p99 {on[2]:.3f} ms")
    print("\ngoals:")
    print(f"  strangler >= 0.5x nginx req/s:      best {best_ratio:.2f}x  {'met' if best_ratio >= 0.5 else 'NOT met'}")
    added_p50 = half["strangler"][1] - d
    print(f"  added p50 <= 0.5 ms at half load:   {added_p50:.3f} ms  {'met' if added_p50 <= 0.5 else 'NOT met'}")
    print(f"  shadow on/off p99 <= 1.05x (half):  {ratio99:.2f}x  {'met' if ratio99 <= 1.05 else 'NOT met'}")
    print("\nPOST of a 1 KiB JSON body, 32 connections (both proxies buffer it before calling the upstream):")
    for name, (rps, p50, p99, errors) in post.items():
        ratio = "" if name == "direct" else f"  {rps / post['nginx'][0]:.2f}x nginx"
        print(f"  {name:<10} {rps:>8.0f} req/s  p50 {p50:.3f} ms  p99 {p99:.3f} ms  errors {errors}{ratio}")
    upstream_us = cpu["direct"]["nginx"]
    nginx_us = cpu["nginx"]["nginx"] - upstream_us
    strangler_us = cpu["strangler"]["strangler"]
    print(
        f"\nCPU per proxied request (32 connections, from /proc; a busy machine raises it too): Strangler "
        f"{strangler_us:.1f} us; nginx {nginx_us:.1f} us (its worker's per request through it, "
        f"{cpu['nginx']['nginx']:.1f} us, less the upstream's own {upstream_us:.1f} us: one worker serves both); "
        f"ratio {nginx_us / strangler_us:.2f}x"
    )
    monolith = None
    if args.monolith:
        monolith = monolith_comparison(args.monolith, args.monolith_path, args.duration, max(args.repeat, 6))
    elif not args.no_monolith:
        monolith = monolith_of_a_stack(args.monolith_path, args.duration, max(args.repeat, 6))
    if monolith is not None:
        extra["monolith"] = monolith
    print_issue_table(results, round_ratios, half, monolith, load_before, nginx_us / strangler_us)
    # 1 vs 2 workers (replicas on one PostgreSQL store), each against nginx with as many workers: workers.py.
    scaling = [sys.executable, str(HERE / "workers.py"), "--duration", str(args.duration), "--repeat", str(args.repeat)]
    if subprocess.run(scaling, check=False).returncode != 0:
        print("1 vs 2 workers: not measured (workers.py failed; it needs PostgreSQL at STRANGLER_TEST_POSTGRES)")
    if args.json:
        print(json.dumps({"results": [asdict(r) for r in results], **extra}, indent=2))


def monolith_of_a_stack(path: str, duration: float, repeat: int) -> dict[str, object]:
    """Start a `make up` stack of its own (SQLite, temporary state, free ports) and compare its monolith."""
    sys.path.insert(0, str(HERE.parent / "walk"))
    from walk_under_load import start_stack

    with tempfile.TemporaryDirectory(prefix="strangler-bench-monolith-") as state:
        stack = start_stack(Path(state), 400)
        try:
            return monolith_comparison(f"http://127.0.0.1:{stack.ports['monolith']}", path, duration, repeat)
        finally:
            stack.stop()


def print_issue_table(
    results: list[Result],
    round_ratios: dict[int, list[float]],
    half: dict[str, tuple[float, float, float, int]],
    monolith: dict[str, object] | None,
    load: float,
    cpu_ratio: float,
) -> None:
    """Issue 16's rows this benchmark measures, with today's figures."""
    ratios = []
    for r in results:
        if r.target == "strangler":
            nginx_rps = next(x.rps for x in results if x.target == "nginx" and x.connections == r.connections)
            median = statistics.median(round_ratios[r.connections])
            ratios.append(f"{r.rps / nginx_rps:.2f}x / {median:.2f}x at {r.connections}")
    direct = half["direct"][1]
    print(f"\n| figure (load average {load:.2f} before the run) | now | goal |")
    print("|---|---|---|")
    figure = "proxy throughput vs nginx, one worker each (best / median of rounds)"
    print(f"| {figure} | {', '.join(ratios)} | >= 0.5x at every concurrency |")
    print(f"| the same as CPU per proxied request, nginx's / Strangler's | {cpu_ratio:.2f}x | >= 0.5x |")
    print(
        f"| added p50 over direct at half load | {half['strangler'][1] - direct:.3f} ms "
        f"(nginx {half['nginx'][1] - direct:.3f} ms) | <= 0.5 ms |"
    )
    if monolith is not None:
        losses = []
        for conns in (8, 32):
            loss = monolith[f"loss_{conns}"]  # type: ignore[index]
            losses.append(
                f"{loss['median'] * 100:.0f}% at {conns} ({loss['low'] * 100:.0f} to {loss['high'] * 100:.0f}%)"
            )
        figure = "proxy in front of the real monolith, throughput loss vs direct (median of pairs, range)"
        print(f"| {figure} | {', '.join(losses)} | <= 5% |")


def monolith_comparison(base: str, path: str, duration: float, repeat: int) -> dict[str, object]:
    """The real monolith direct vs through Strangler (stage off), at 8 and 32 connections, in `repeat` pairs.

    The monolith answers a few hundred requests a second and its throughput wanders from one run to the next by
    more than the proxy costs it, so each pair runs both targets back to back (alternating which goes first) and
    the loss is the median of the pairs' losses, with the range beside it.
    """
    port = free_port()
    out: dict[str, object] = {}
    print(f"\nthe monolith at {base}{path}, direct vs through Strangler, {repeat} pairs (alternating order):")
    with strangler(port, base, base, "off"):
        for conns in (8, 32):
            losses = []
            for pair in range(repeat):
                urls = [("direct", base + path), ("strangler", f"http://127.0.0.1:{port}{path}")]
                runs: dict[str, tuple[float, float, float, int]] = {}
                for name, url in urls if pair % 2 == 0 else urls[::-1]:
                    runs[name] = wrk(url, conns, duration)
                loss = 1 - runs["strangler"][0] / runs["direct"][0]
                losses.append(loss)
                print(
                    f"  {conns:>3} conns pair {pair + 1}: "
                    + "; ".join(
                        f"{name} {rps:.0f} req/s p50 {p50:.1f} ms p99 {p99:.1f} ms errors {errors}"
                        for name, (rps, p50, p99, errors) in sorted(runs.items())
                    )
                    + f"; loss {loss * 100:.1f}%"
                )
            out[f"loss_{conns}"] = {"median": statistics.median(losses), "low": min(losses), "high": max(losses)}
    return out


if __name__ == "__main__":
    main()
