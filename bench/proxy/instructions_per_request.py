"""Benchmark: the proxy's CPU instructions per forwarded request, this checkout against another checkout's proxy (the
reference), counted by valgrind's callgrind — a count that the machine's load does not change.

    .venv/bin/python bench/proxy/instructions_per_request.py --reference-checkout CHECKOUT [--requests 2000]
    .venv/bin/python bench/proxy/instructions_per_request.py --reference-src DIR [...]

Why: on the shared 2-core machine, CPU time per request (`cpu_per_request.py`) swings by ±15 % from one run to the
next with the other processes' load, which cannot decide a ±5 % question. Instructions executed are what a
request costs the proxy's own code (the interpreter, uvloop, httptools, the proxy), and callgrind counts them
exactly: the same requests give the same count to within a fraction of a per cent, however busy the machine is.

How: each proxy (`strangler_target.py`, one process, stage `off`, the same nginx upstream as the other
benchmarks) runs under `valgrind --tool=callgrind`. A client sends `--warmup` GETs (pools, caches, lazy imports),
then for each of `--repeat` windows the counters are zeroed (`callgrind_control --zero`), `--requests` GETs are
sent — the same on every window and for both proxies: `--connections` keep-alive connections in lock step, one
request on each, then the answers — and the counters are dumped; instructions (Ir) / requests is the figure.
Printed: instructions per request for each proxy (median of the windows, and their spread), and the ratio
this / reference. What it does not count: the kernel's work (system calls, the TCP stack), which is the same for
both proxies as long as they make the same system calls per request; the wall-clock benchmarks
(`cpu_per_request.py`, `run.py`) measure everything, less precisely.

`--profile DIR` keeps the last window's callgrind files there (`callgrind_annotate --inclusive=yes FILE`).
Needs valgrind (with callgrind_control), nginx; slow: a proxy under callgrind answers ~200 requests a second.
"""

from __future__ import annotations

import argparse
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import reference  # noqa: E402
from run import BODY, UPSTREAM_SERVER, free_port, nginx, wait_port  # noqa: E402

REQUEST = b"GET /api/items/1 HTTP/1.1\r\nHost: localhost\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"
_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


def _read_response(sock: socket.socket, buffered: bytes) -> bytes:
    """Read one response (Content-Length framed, as the benchmark's upstream sends) and return what follows it."""
    data = buffered
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            raise SystemExit("the proxy closed the connection")
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200 "):
        raise SystemExit(f"unexpected answer: {head[:80]!r}")
    match = _LENGTH.search(head)
    length = int(match.group(1)) if match else 0
    while len(rest) < length:
        more = sock.recv(65536)
        if not more:
            raise SystemExit("the proxy closed the connection mid-body")
        rest += more
    return rest[length:]


def send_requests(port: int, total: int, connections: int) -> int:
    """`total` GETs over `connections` keep-alive connections in lock step; returns the number answered."""
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    leftovers = [b""] * connections
    done = 0
    try:
        while done < total:
            batch = min(connections, total - done)
            for sock in socks[:batch]:
                sock.sendall(REQUEST)
            for i in range(batch):
                leftovers[i] = _read_response(socks[i], leftovers[i])
            done += batch
    finally:
        for sock in socks:
            sock.close()
    return done


def _callgrind_control(option: str, pid: int) -> None:
    subprocess.run(["callgrind_control", option, str(pid)], check=True, capture_output=True, timeout=120)


def _dumped_instructions(directory: Path, pid: int, seen: set[Path]) -> tuple[int, Path]:
    """The Ir total of the newest dump of `pid` (callgrind writes `cg.PID.N`), waiting for it to be complete."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for path in sorted(directory.glob(f"cg.{pid}.*")):
            if path in seen:
                continue
            match = re.search(r"^summary:\s*(\d+)", path.read_text(errors="replace"), re.MULTILINE)
            if match:
                seen.add(path)
                return int(match.group(1)), path
        time.sleep(0.1)
    raise SystemExit(f"no callgrind dump of {pid} appeared")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    reference.add_arguments(parser)
    parser.add_argument("--requests", type=int, default=2000, help="requests per measured window (default 2000)")
    parser.add_argument("--warmup", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3, help="measured windows per proxy (default 3)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--profile", type=Path, help="keep the last window's callgrind files in this directory")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    for tool in ("valgrind", "callgrind_control", "nginx"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install -y valgrind nginx")
    up = free_port()
    ports = {"this": free_port(), "reference": free_port()}
    base_env = {**os.environ, "PYTHONHASHSEED": "0"}
    commands, envs = setup = reference.proxies(options, base_env)
    built = reference.builds(setup)
    for which, build in built.items():
        print(f"{which:<14} runs the {build}", file=sys.stderr if options.json else sys.stdout)
    scratch = Path(tempfile.mkdtemp(prefix="strangler-bench-callgrind-"))
    counts: dict[str, list[float]] = {name: [] for name in ports}
    files: dict[str, Path] = {}
    try:
        with nginx(UPSTREAM_SERVER.format(port=up, body=BODY)):
            wait_port(up)
            procs = {
                name: subprocess.Popen(
                    [
                        "valgrind",
                        "--tool=callgrind",
                        f"--callgrind-out-file={scratch}/cg.%p",
                        *commands[name],
                        str(port),
                        f"http://127.0.0.1:{up}",
                        "http://x:1",
                        "off",
                    ],
                    env=envs[name],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for name, port in ports.items()
            }
            try:
                for port in ports.values():
                    wait_port(port, timeout=300)
                for port in ports.values():
                    send_requests(port, options.warmup, options.connections)
                seen: set[Path] = set()
                for _ in range(options.repeat):
                    for name, port in ports.items():  # interleaved, though the count does not depend on the load
                        pid = procs[name].pid
                        _callgrind_control("--zero", pid)
                        answered = send_requests(port, options.requests, options.connections)
                        _callgrind_control("--dump", pid)
                        instructions, path = _dumped_instructions(scratch, pid, seen)
                        counts[name].append(instructions / answered)
                        files[name] = path
            finally:
                for proc in procs.values():
                    proc.terminate()
                    proc.wait(60)
        if options.profile is not None:
            options.profile.mkdir(parents=True, exist_ok=True)
            for name, path in files.items():
                shutil.copy(path, options.profile / f"callgrind.{name}.out")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    median = {name: statistics.median(values) for name, values in counts.items()}
    spread = {name: (max(values) - min(values)) / median[name] for name, values in counts.items()}
    ratio = median["this"] / median["reference"]
    figures = {
        "instructions_per_request": {name: round(value) for name, value in median.items()},
        "spread_of_windows": {name: round(value, 4) for name, value in spread.items()},
        "windows": {name: [round(v) for v in values] for name, values in counts.items()},
        "ratio_this_to_reference": round(ratio, 4),
        "requests_per_window": options.requests,
        "connections": options.connections,
        "load_average": os.getloadavg()[0],
    }
    if options.json:
        print(json.dumps({**figures, "builds": built}))
        return
    for name in ports:
        print(
            f"{name:10} {median[name]:10.0f} instructions per request (median of {options.repeat} windows of "
            f"{options.requests}; spread {spread[name] * 100:.2f} %)"
        )
    print(f"this / reference: {ratio:.4f} (instructions per request; < 1 is cheaper)")


if __name__ == "__main__":
    main()
