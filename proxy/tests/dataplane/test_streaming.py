"""Huge bodies stream through the proxy in bounded memory, measured from /proc on a proxy process of its own.

STRANGLER_TEST_STREAM_MB sets the body size (default 1024: the 1 GB of the issue).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import LoopThread
from upstream_double import Received, Upstream

MB = 1 << 20
SIZE = int(os.environ.get("STRANGLER_TEST_STREAM_MB", "1024")) * MB
BOUND = 64 * MB  # allowed growth of the proxy's resident memory
PIECE = b"\xab" * MB


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class PeakRss:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss(self.pid))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def upstream(loop_thread: LoopThread) -> Iterator[Upstream]:
    up = Upstream("monolith", keep_body=0)
    loop_thread.run(up.start())
    yield up
    loop_thread.run(up.stop())


@pytest.fixture
def proxy_pid_port(upstream: Upstream) -> Iterator[tuple[int, int]]:
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).parents[1] / "proxy_process.py"), upstream.url],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        warm = socket.create_connection(("127.0.0.1", port))
        warm.sendall(b"GET /warm HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        while warm.recv(65536):
            pass
        warm.close()
        yield proc.pid, port
    finally:
        proc.terminate()
        proc.wait(10)


def read_response(sock: socket.socket, pause_after_head: float = 0) -> tuple[bytes, int]:
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(65536)
    head, _, first = head.partition(b"\r\n\r\n")
    if pause_after_head:
        time.sleep(pause_after_head)
    received = len(first)
    while chunk := sock.recv(1 << 20):
        received += len(chunk)
    return head, received


def test_a_huge_request_body_streams_through_in_bounded_memory(
    upstream: Upstream, proxy_pid_port: tuple[int, int]
) -> None:
    pid, port = proxy_pid_port
    baseline = rss(pid)
    with PeakRss(pid) as peak, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % SIZE)
        for _ in range(SIZE // MB):
            sock.sendall(PIECE)
        head, _ = read_response(sock)
    assert head.startswith(b"HTTP/1.1 200")
    (received,) = [r for r in upstream.received if r.target == b"/upload"]
    assert received.body_size == SIZE and received.header("Content-Length") == str(SIZE).encode()
    assert peak.peak - baseline < BOUND, f"proxy RSS grew by {(peak.peak - baseline) / MB:.1f} MB"


def test_a_huge_response_body_streams_through_in_bounded_memory_even_to_a_slow_reader(
    upstream: Upstream, proxy_pid_port: tuple[int, int]
) -> None:
    async def huge(req: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % SIZE)
        for _ in range(SIZE // MB):
            writer.write(PIECE)
            await writer.drain()

    upstream.handler = huge
    pid, port = proxy_pid_port
    baseline = rss(pid)
    with PeakRss(pid) as peak, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(b"GET /download HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        head, received = read_response(sock, pause_after_head=1.0)  # the upstream keeps pushing meanwhile
    assert head.startswith(b"HTTP/1.1 200") and b"content-length: %d" % SIZE in head.lower()
    assert received == SIZE
    assert peak.peak - baseline < BOUND, f"proxy RSS grew by {(peak.peak - baseline) / MB:.1f} MB"


def test_a_client_that_pipelines_without_reading_cannot_grow_the_proxys_memory(
    upstream: Upstream, proxy_pid_port: tuple[int, int]
) -> None:
    # Each 28-byte request asks for a 16 KiB answer that arrives whole: a proxy that kept reading would queue it all.
    answer = b"z" * (16 * 1024)

    async def large(req: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(answer) + answer)
        await writer.drain()

    upstream.handler = large
    pid, port = proxy_pid_port
    baseline = rss(pid)
    requests = b"GET /p HTTP/1.1\r\nHost: h\r\n\r\n" * 20_000
    with PeakRss(pid) as peak, socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
        sent = 0
        answered = -1
        steady_since = started = time.monotonic()
        # Send what the proxy takes, until it has asked the upstream nothing new for a second: it stopped reading.
        while time.monotonic() - steady_since < 1.0 and time.monotonic() - started < 30:
            if sent < len(requests):
                with contextlib.suppress(BlockingIOError):
                    sent += sock.send(requests[sent : sent + 65536])
            select.select([], [sock] if sent < len(requests) else [], [], 0.05)
            if len(upstream.received) != answered:
                answered = len(upstream.received)
                steady_since = time.monotonic()
    answered_while_unread = len(upstream.received)
    assert answered_while_unread < 2_000, "the proxy kept reading requests whose answers nobody took"
    assert peak.peak - baseline < 8 * MB, f"proxy RSS grew by {(peak.peak - baseline) / MB:.1f} MB"
