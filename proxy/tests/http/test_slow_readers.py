"""A client that stops taking its response: the server stops producing for it, and cuts it off after the send
timeout instead of holding the connection (and the upstream's answer) for ever (issue 9, class 7)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest
from conftest import LoopThread, Stack, start_stack, stop_stack
from http_wire import wait_until
from strangler_proxy.http.server import ServerLimits
from upstream_double import Received


@pytest.fixture
def impatient_sender(loop_thread: LoopThread) -> Iterator[Stack]:
    s = start_stack(loop_thread, limits=ServerLimits(send_timeout=0.5, write_high_water=16 * 1024, shutdown_grace=1))
    yield s
    stop_stack(s)


def test_a_client_that_takes_nothing_is_cut_off_after_the_send_timeout(impatient_sender: Stack) -> None:
    upstream_gave_up: list[float] = []

    async def endless(req: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (1 << 30))
        try:
            while True:
                writer.write(b"x" * 65536)
                await writer.drain()
        except ConnectionError:
            upstream_gave_up.append(time.monotonic())

    impatient_sender.monolith.handler = endless
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", impatient_sender.port))
        started = time.monotonic()
        sock.sendall(b"GET /never-read HTTP/1.1\r\nHost: h\r\n\r\n")
        # the proxy gives up on the client, and so lets go of the upstream's answer
        wait_until(lambda: upstream_gave_up, timeout=10, what="the upstream connection to be dropped")
    assert upstream_gave_up[0] - started < 5
