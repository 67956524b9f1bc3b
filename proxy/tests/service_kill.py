"""A service killed with SIGKILL under load through the proxy at `live` (issue 19), with real processes: the proxy, a
monolith double and a service double, each a process of its own; clients on keep-alive connections that send a
write's head and body in separate writes.

    python service_kill.py upstream PORT NAME WRITE_LOG   # a double: GET answers, POST logs its X-Write-Id first
    python service_kill.py proxy PORT MONOLITH_URL SERVICE_URL

`run(...)` plays the scenario and returns what it measured: safe and unsafe requests that failed, writes applied
twice, the time from the kill to the circuit opening, and from the service answering its health check again to
the first request it served. `tests/dataplane/test_service_kill.py` asserts on it; `bench/proxy/service_kill.py`
prints it for a longer run.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve()


# --- the processes -------------------------------------------------------------------------------------------------


async def serve_upstream(port: int, name: str, write_log: str) -> None:
    log = os.open(write_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                method, target = lines[0].split(b" ")[:2]
                headers = {}
                for line in lines[1:]:
                    key, _, value = line.partition(b":")
                    headers[key.strip().lower()] = value.strip()
                length = int(headers.get(b"content-length", b"0"))
                if length:
                    await reader.readexactly(length)
                if method == b"POST":
                    # applied before it is answered, as a database commit would be: a kill may come in between
                    os.write(log, headers.get(b"x-write-id", b"?") + b"\n")
                    status = b"201 Created"
                else:
                    status = b"200 OK"
                body = json.dumps({"served_by": name, "target": target.decode()}).encode()
                writer.write(
                    b"HTTP/1.1 %b\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%b"
                    % (status, len(body), body)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            writer.close()

    server = await asyncio.start_server(one, "127.0.0.1", port, backlog=512)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


async def serve_proxy(port: int, monolith_url: str, service_url: str) -> None:
    from strangler_proxy.dataplane.app import ProxyApp
    from strangler_proxy.dataplane.model import Route, RouteTable, Stage, Upstream
    from strangler_proxy.dataplane.settings import ProxySettings
    from strangler_proxy.http.server import ProxyServer

    table = RouteTable(
        version=1,
        upstreams={
            "monolith": Upstream("monolith", monolith_url, read_timeout=5),
            "service": Upstream("service", service_url, connect_timeout=0.5, read_timeout=5),
        },
        routes=(Route("/api", "service", Stage.LIVE, upstream_header=True),),
    )
    server = ProxyServer(public_app=ProxyApp(table, ProxySettings(access_log=False)), host="127.0.0.1", port=port)
    await server.start()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.request_stop)
    await server.wait_stop_requested()
    await server.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(*args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, str(HERE), *args], stdout=subprocess.PIPE, text=True, cwd=HERE.parent)
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        process.kill()
        raise RuntimeError(f"{args[0]} did not start")
    return process


# --- the clients ---------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    at: float
    method: str
    status: int  # 0: the connection failed
    served_by: str = ""
    error: str = ""


@dataclass
class Load:
    port: int
    write_share: float
    stop: threading.Event = field(default_factory=threading.Event)
    outcomes: list[Outcome] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=itertools.count)

    def client(self, seed: int) -> None:
        rng = random.Random(seed)
        sock: socket.socket | None = None
        buffer = b""
        while not self.stop.is_set():
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                buffer = b""
            write = rng.random() < self.write_share
            try:
                if write:
                    body = b'{"n": 1}'
                    sock.sendall(
                        b"POST /api/things/ HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\n"
                        b"X-Write-Id: w%d\r\nContent-Length: %d\r\n\r\n" % (next(self.ids), len(body))
                    )
                    time.sleep(0.002)  # the body in a write of its own, as http.client sends it
                    sock.sendall(body)
                else:
                    sock.sendall(b"GET /api/things/?page=1 HTTP/1.1\r\nHost: shop\r\n\r\n")
                status, headers, payload, buffer = read_response(sock, buffer)
            except (OSError, ValueError) as exc:
                self.outcomes.append(Outcome(time.monotonic(), "POST" if write else "GET", 0, error=repr(exc)))
                with contextlib.suppress(OSError):
                    sock.close()
                sock = None
                continue
            served_by = headers.get(b"x-strangler-upstream", b"").decode()
            error = ""
            if headers.get(b"content-type") == b"application/json" and status >= 500:
                with contextlib.suppress(ValueError):
                    error = str(json.loads(payload).get("error", ""))
            self.outcomes.append(Outcome(time.monotonic(), "POST" if write else "GET", status, served_by, error))
            if headers.get(b"connection", b"").lower() == b"close":
                sock.close()
                sock = None
        if sock is not None:
            sock.close()


def read_response(sock: socket.socket, buffer: bytes) -> tuple[int, dict[bytes, bytes], bytes, bytes]:
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a response")
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(b":")
        headers[key.strip().lower()] = value.strip()
    length = int(headers.get(b"content-length", b"0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed mid-body")
        rest += chunk
    return status, headers, rest[:length], rest[length:]


# --- the scenario --------------------------------------------------------------------------------------------------


@dataclass
class Result:
    requests: int
    safe: int
    unsafe: int
    failed_safe: int
    failed_unsafe: int
    writes_applied_twice: int
    seconds_to_breaker_open: float | None
    seconds_to_recovery: float | None  # health answering again -> first request the service served
    failures: list[str]

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "failures"}


@contextlib.contextmanager
def processes(folder: Path) -> Iterator[tuple[int, int, Path, list[subprocess.Popen[str]]]]:
    monolith_port, service_port, proxy_port = free_port(), free_port(), free_port()
    log = folder / "service-writes.log"
    running = [
        start("upstream", str(monolith_port), "monolith", str(folder / "monolith-writes.log")),
        start("upstream", str(service_port), "service", str(log)),
    ]
    try:
        running.append(
            start("proxy", str(proxy_port), f"http://127.0.0.1:{monolith_port}", f"http://127.0.0.1:{service_port}")
        )
        yield proxy_port, service_port, log, running
    finally:
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()


def healthy(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            return sock.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def run(
    folder: Path,
    *,
    clients: int = 8,
    write_share: float = 0.3,
    warm: float = 1.0,
    down: float = 1.5,
    after: float = 2.0,
) -> Result:
    with processes(folder) as (proxy_port, service_port, log, running):
        load = Load(proxy_port, write_share)
        threads = [threading.Thread(target=load.client, args=(seed,), daemon=True) for seed in range(clients)]
        for thread in threads:
            thread.start()
        time.sleep(warm)
        killed = time.monotonic()
        running[1].send_signal(signal.SIGKILL)
        running[1].wait()
        time.sleep(down)
        running[1] = start("upstream", str(service_port), "service", str(log))
        while not healthy(service_port):
            pass
        back = time.monotonic()
        time.sleep(after)
        load.stop.set()
        for thread in threads:
            thread.join(10)
    outcomes = list(load.outcomes)
    safe = [o for o in outcomes if o.method == "GET"]
    unsafe = [o for o in outcomes if o.method == "POST"]
    failed_safe = [o for o in safe if o.status != 200]
    failed_unsafe = [o for o in unsafe if o.status != 201]
    applied = log.read_text().split()
    opened = [o.at for o in outcomes if o.error == "circuit_open" and o.at >= killed]
    recovered = [o.at for o in outcomes if o.served_by == "service" and o.at >= back]
    return Result(
        requests=len(outcomes),
        safe=len(safe),
        unsafe=len(unsafe),
        failed_safe=len(failed_safe),
        failed_unsafe=len(failed_unsafe),
        writes_applied_twice=len(applied) - len(set(applied)),
        seconds_to_breaker_open=round(min(opened) - killed, 3) if opened else None,
        seconds_to_recovery=round(min(recovered) - back, 3) if recovered else None,
        failures=[f"{o.method} {o.status} {o.error}" for o in failed_safe[:10]],
    )


if __name__ == "__main__":
    role = sys.argv[1]
    if role == "upstream":
        asyncio.run(serve_upstream(int(sys.argv[2]), sys.argv[3], sys.argv[4]))
    elif role == "proxy":
        from strangler_proxy.http.server import new_event_loop

        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(serve_proxy(int(sys.argv[2]), sys.argv[3], sys.argv[4]))
