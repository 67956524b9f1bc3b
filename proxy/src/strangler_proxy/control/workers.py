"""`strangler proxy --workers N`: N processes, each a whole replica (its own event loop, id and heartbeat) on the
same ports through SO_REUSEPORT, so the kernel spreads connections between them and one core is not the ceiling.

    run_workers(settings, admin_extensions, overrides, serve=run)   # until SIGINT/SIGTERM, then stops every worker

The parent binds nothing it serves: it picks the ports when they are 0 (a bound, non-listening SO_REUSEPORT socket
holds each one while the workers start), starts each worker with `listen`, `admin_listen`, `reuse_port` and
`replica_id` = `<STRANGLER_REPLICA_ID or host:pid>/<i>`, passes SIGINT/SIGTERM on, and exits once they have. Each
worker prints its own ready line. The workers share everything through the PostgreSQL store (routes, write holds,
data owners, pins); a worker that dies is restarted after `RESTART_DELAY` — a killed worker is a dead replica, and
the others stop waiting for it after STRANGLER_REPLICA_DEAD_AFTER.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
from collections.abc import Callable, Sequence
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger("strangler_proxy.workers")

RESTART_DELAY = 1.0
STOP_GRACE = 15.0


def reserve_port(host: str, port: int) -> tuple[socket.socket, int]:
    """A socket bound to (host, port) with SO_REUSEPORT, not listening: it holds the port for the workers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock, int(sock.getsockname()[1])


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _worker(serve: Callable[..., None], admin_extensions: Sequence[Any], overrides: dict[str, Any]) -> None:
    serve(admin_extensions=admin_extensions, **overrides)


def run_workers(
    settings: Any, admin_extensions: Sequence[Any], overrides: dict[str, Any], *, serve: Callable[..., None]
) -> None:
    """`serve` is `runtime.run` (a module-level function: each worker imports it afresh)."""
    reserved = []
    public, public_port = reserve_port(settings.host, settings.port)
    admin, admin_port = reserve_port(settings.admin_host, settings.admin_port)
    reserved += [public, admin]
    base = settings.replicas.name()
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each: no threads or loops inherited
    stopping = threading.Event()

    def start(i: int) -> BaseProcess:
        worker_overrides = {
            **overrides,
            "listen": _address(settings.host, public_port),
            "admin_listen": _address(settings.admin_host, admin_port),
            "workers": 1,
            "reuse_port": True,
            "replica_id": f"{base}/{i}",
        }
        args = (serve, list(admin_extensions), worker_overrides)
        process = context.Process(target=_worker, args=args, name=f"worker {i}")
        process.start()
        return process

    processes = [start(i) for i in range(settings.workers)]
    log.info("started %d workers on %s", settings.workers, _address(settings.host, public_port))

    def stop(signum: int, frame: object) -> None:
        stopping.set()
        for process in processes:
            if process.is_alive() and process.pid is not None:
                process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping.is_set():
            for i, process in enumerate(processes):
                if not process.is_alive() and not stopping.is_set():
                    log.error("worker %d exited with %s; starting it again", i, process.exitcode)
                    if stopping.wait(RESTART_DELAY):
                        break
                    processes[i] = start(i)
            stopping.wait(0.2)
    finally:
        for process in processes:
            process.join(STOP_GRACE)
            if process.is_alive():
                process.kill()
                process.join(5)
        for sock in reserved:
            sock.close()
