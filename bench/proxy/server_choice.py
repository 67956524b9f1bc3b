"""Which HTTP/1.1 server should face clients? The same RFC-classified cases (`http_cases.py`) and the same throughput
run for Strangler's own server and uvicorn's two protocols, each serving the same trivial ASGI app:

* ``strangler``: `strangler_proxy.http.server` (llhttp through httptools, uvloop);
* ``uvicorn-httptools``: uvicorn's httptools protocol as it ships, and ``uvicorn-httptools-strict``: the same
  protocol subclassed with the checks an edge needs that llhttp leaves to the server (`StrictHttpToolsProtocol`);
* ``uvicorn-h11``: uvicorn's h11 protocol.

    python bench/proxy/server_choice.py                   # both tables, printed
    python bench/proxy/server_choice.py --write FILE.md   # ... and written as Markdown (what is committed)

The app answers each request with what it saw (method, path, a digest of the body, the header names), so a case is
judged on what reached the app: a request that reaches it is one a proxy built on that server would forward.
Throughput: wrk, 32 connections, GET with a small answer, every server one process on uvloop, the rounds
interleaved; CPU per request from the server process's /proc/PID/stat. Needs wrk.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from http_cases import CASES, MAY_ACCEPT, MUST_ACCEPT, MUST_REJECT, Case, Seen  # noqa: E402

SERVERS = ("strangler", "uvicorn-httptools-strict", "uvicorn-httptools", "uvicorn-h11")
THROUGHPUT = ("strangler", "uvicorn-httptools-strict", "uvicorn-h11")


# --- the app and the servers --------------------------------------------------------------------------------------


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/bench":
        answer = b"hello, world"
    else:
        answer = json.dumps(
            {
                "method": scope["method"],
                "path": scope["path"],
                "body": hashlib.sha256(body).hexdigest()[:16],
                "headers": sorted({n.decode("latin-1").lower() for n, _ in scope["headers"]}),
            }
        ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


def strict_httptools_protocol() -> type:
    """uvicorn's httptools protocol plus what Strangler's server checks and llhttp does not: HTTP/1.0 or 1.1, one
    Host, one framing header and only ``chunked``, no Transfer-Encoding in HTTP/1.0, no body with Upgrade, origin- or
    absolute-form targets, trailers kept out of the headers, and parsing that goes on after a refused upgrade."""
    import httptools
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class StrictHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[misc]
        def on_message_begin(self) -> None:
            super().on_message_begin()
            self.in_head = True

        def on_header(self, name: bytes, value: bytes) -> None:
            if self.in_head:
                super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self.in_head = False
            version = self.parser.get_http_version()
            if version not in ("1.0", "1.1"):
                raise ValueError("not HTTP/1.x")
            named: dict[bytes, list[bytes]] = {}
            for name, value in self.headers:
                named.setdefault(name, []).append(value.strip(b" \t"))
            lengths, codings = named.get(b"content-length", []), named.get(b"transfer-encoding", [])
            hosts = len(named.get(b"host", []))
            if hosts > 1 or (version == "1.1" and hosts == 0):
                raise ValueError("exactly one Host")
            if len(lengths) > 1 or len(codings) > 1 or (lengths and codings) or (codings and version == "1.0"):
                raise ValueError("ambiguous framing")
            if (lengths and not lengths[0].isdigit()) or (codings and codings[0].lower() != b"chunked"):
                raise ValueError("bad framing value")
            if self.parser.should_upgrade() and (codings or (lengths and int(lengths[0]))):
                raise ValueError("Upgrade with a body")
            origin_or_absolute = self.url.startswith(b"/") or self.url.lower().startswith((b"http://", b"https://"))
            if not origin_or_absolute and not (self.url == b"*" and self.parser.get_method() == b"OPTIONS"):
                raise ValueError("target form")
            super().on_headers_complete()

        def data_received(self, data: bytes) -> None:
            while True:
                try:
                    self.parser.feed_data(data)
                except httptools.HttpParserUpgrade as exc:
                    if self._should_upgrade():
                        self.handle_websocket_upgrade()
                    elif exc.args[0] < len(data):
                        data = data[exc.args[0] :]
                        continue
                except httptools.HttpParserError:
                    self.send_400_response("Invalid HTTP request received.")
                return

    return StrictHttpToolsProtocol


def serve(kind: str, port: int) -> None:
    if kind == "strangler":
        from strangler_proxy.http.server import run

        run(public_app=app, host="127.0.0.1", port=port)
        return
    import uvicorn

    protocols: dict[str, Any] = {
        "uvicorn-httptools-strict": strict_httptools_protocol(),
        "uvicorn-httptools": "httptools",
        "uvicorn-h11": "h11",
    }
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        http=protocols[kind],
        loop="uvloop",
        lifespan="off",
        log_level="critical",
        access_log=False,
        ws="none",
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(kind: str) -> Iterator[tuple[int, int]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(200):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.05)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


# --- the cases ----------------------------------------------------------------------------------------------------


def exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(data)
        out = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):
                out += chunk
        return out


def seen_by_app(reply: bytes) -> list[dict[str, Any]]:
    """What the app answered, in order: the requests that reached it."""
    seen = []
    for match in re.finditer(rb'\{"method": .*?\]\}', reply):
        seen.append(json.loads(match.group()))
    return seen


def matches(seen: dict[str, Any], expected: Seen) -> bool:
    return (
        seen["method"] == expected.method
        and seen["path"] == expected.path
        and seen["body"] == hashlib.sha256(expected.body).hexdigest()[:16]
        and not set(expected.absent) & set(seen["headers"])
    )


def verdict(case: Case, seen: list[dict[str, Any]]) -> tuple[bool, str]:
    """(passes, what happened)."""
    exact = len(seen) == len(case.expect) and all(map(matches, seen, case.expect))
    prefix = len(seen) <= len(case.expect) and all(map(matches, seen, case.expect))
    read = f"app saw {len(seen)}"
    if case.rule == MAY_ACCEPT:
        refused = len(seen) < len(case.expect)
        return prefix, ("refused" if refused else "read as stated") if prefix else f"MISREAD ({read})"
    if exact:
        return True, "refused" if case.rule == MUST_REJECT else "read as stated"
    return False, ("PASSED ON" if case.rule == MUST_REJECT else "REFUSED OR MISREAD") + f" ({read})"


def run_cases() -> dict[str, dict[str, tuple[bool, str]]]:
    results: dict[str, dict[str, tuple[bool, str]]] = {}
    for kind in SERVERS:
        with server(kind) as (port, _):
            for case in CASES:
                results.setdefault(case.name, {})[kind] = verdict(case, seen_by_app(exchange(port, case.data)))
    return results


# --- throughput ---------------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(port: int, duration: int) -> tuple[float, float, float, int]:
    out = subprocess.run(
        ["wrk", "-t1", "-c32", f"-d{duration}s", "--latency", f"http://127.0.0.1:{port}/bench"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    lat = {p: _ms(re.search(rf"\s{p}%\s+([\d.]+\w+)", out).group(1)) for p in ("50", "99")}  # type: ignore[union-attr]
    return rps, lat["50"], lat["99"], total


def _ms(text: str) -> float:
    value, unit = float(re.match(r"[\d.]+", text).group()), re.sub(r"[\d.]+", "", text)  # type: ignore[union-attr]
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_throughput(duration: int, rounds: int) -> dict[str, list[tuple[float, float, float, float]]]:
    runs: dict[str, list[tuple[float, float, float, float]]] = {kind: [] for kind in THROUGHPUT}
    for _ in range(rounds):
        for kind in THROUGHPUT:
            with server(kind) as (port, pid):
                wrk(port, 1)  # warm up
                before = cpu_seconds(pid)
                rps, p50, p99, total = wrk(port, duration)
                cpu_us = (cpu_seconds(pid) - before) / max(total, 1) * 1e6
                runs[kind].append((rps, p50, p99, cpu_us))
    return runs


# --- the report ---------------------------------------------------------------------------------------------------


def report(results: dict[str, dict[str, tuple[bool, str]]], runs: dict[str, list[Any]], duration: int) -> str:
    rule_of = {c.name: c for c in CASES}
    lines = ["| case | RFC | " + " | ".join(SERVERS) + " |", "|---|---|" + "---|" * len(SERVERS)]
    for name, by_server in results.items():
        case = rule_of[name]
        cells = [("ok: " if ok else "**FAIL**: ") + what for ok, what in (by_server[k] for k in SERVERS)]
        lines.append(f"| {name} | {case.rule} ({case.where}) | " + " | ".join(cells) + " |")
    lines.append("")
    for rule in (MUST_REJECT, MUST_ACCEPT, MAY_ACCEPT):
        total = sum(c.rule == rule for c in CASES)
        failed = {k: sum(not results[c.name][k][0] for c in CASES if c.rule == rule) for k in SERVERS}
        lines.append(f"{rule}: {total} cases; failed: " + ", ".join(f"{k} {failed[k]}" for k in SERVERS))
    load = os.getloadavg()[0]
    lines += [
        "",
        f"throughput: wrk -c32 -d{duration}s, GET /bench (12 bytes), {len(next(iter(runs.values())))} interleaved "
        f"rounds, 1-minute load average {load:.1f} at the end",
        "",
        "| server | req/s per round | p50 ms | p99 ms | CPU µs/request |",
        "|---|---|---|---|---|",
    ]
    for kind, measured in runs.items():
        rps = " / ".join(f"{r[0]:,.0f}" for r in measured)
        best = max(measured, key=lambda r: r[0])
        lines.append(f"| {kind} | {rps} | {best[1]:.2f} | {best[2]:.2f} | {min(r[3] for r in measured):.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved throughput rounds (default 3)")
    parser.add_argument("--write", type=Path, help="also write the report (Markdown) to this file")
    parser.add_argument("--serve", nargs=2, metavar=("KIND", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return
    results = run_cases()
    runs = run_throughput(args.duration, args.rounds)
    text = report(results, runs, args.duration)
    print(text)
    if args.write:
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        args.write.write_text(f"# Server choice, measured {stamp}\n\n`{' '.join(sys.argv)}`\n\n{text}\n")


if __name__ == "__main__":
    main()
