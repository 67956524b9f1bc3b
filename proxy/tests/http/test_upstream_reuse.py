"""Issue 9, class 4: an upstream connection is reused only when clean, and a response that breaks its framing gives
its client a 502 and nothing else; issue 19: idle connections close on time, a dead pooled one is never used.

The first tests go through the proxy to the recording upstream double (one pooled connection, so the second client
is served on the connection the first one used, if the proxy keeps it). The last ones drive `UpstreamPool` against a
raw upstream on a thread while the event loop is deliberately held, so that what the upstream did (close, send
stray bytes) is on the socket but not yet seen by the loop: only the check before reuse can catch it.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
from conftest import LoopThread, Stack, start_stack, stop_stack
from http_wire import exchange, parse_replies, wait_until
from strangler_proxy.dataplane.model import Upstream
from strangler_proxy.http.client import UpstreamPool
from upstream_double import Received, echo

LEAK = b"HTTP/1.1 200 X\r\nContent-Length: 4\r\n\r\nLEAK"


@pytest.fixture
def one_conn(loop_thread: LoopThread) -> Iterator[Stack]:
    s = start_stack(loop_thread, read_timeout=2, max_connections=1)
    yield s
    stop_stack(s)


def answer_a_then_echo(raw: bytes, *, later: bytes = b"") -> tuple[object, list[bool]]:
    """A handler: `/a` gets `raw` (then `later`, once the response is out), anything else the echo."""
    done: list[bool] = []

    async def handler(req: Received, writer: asyncio.StreamWriter) -> None:
        if req.path != b"/a":
            await echo(req, writer)
            return
        writer.write(raw)
        await writer.drain()
        if later:
            await asyncio.sleep(0.05)  # the upstream's misbehaviour, timed: the connection is idle by then
            writer.write(later)
            await writer.drain()
        done.append(True)

    return handler, done


def only_reply(port: int, request: bytes) -> tuple[int, bytes, bytes]:
    data, _ = exchange(port, request, timeout=5)
    replies, rest = parse_replies(data)
    assert len(replies) == 1 and rest == b"", data
    return replies[0].status, replies[0].body, data


def second_client_gets_its_own(stack: Stack) -> None:
    status, _, body = stack.request("GET", "/b")
    assert status == 200 and b"LEAK" not in body
    assert json.loads(body)["target"] == "/b"


GET_A = b"GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"


def test_a_response_followed_by_another_in_the_same_write_gives_a_502_and_the_next_client_its_own(
    one_conn: Stack,
) -> None:
    one_conn.monolith.handler, _ = answer_a_then_echo(b"HTTP/1.1 200 X\r\nContent-Length: 5\r\n\r\nfirst" + LEAK)
    status, body, data = only_reply(one_conn.port, GET_A)
    assert status == 502 and json.loads(body)["error"] == "upstream_broken"
    assert b"LEAK" not in data and b"first" not in data
    second_client_gets_its_own(one_conn)
    assert one_conn.monolith.connections == 2  # the dirty connection was not reused


def test_a_response_that_arrives_while_the_connection_is_idle_never_reaches_the_next_client(one_conn: Stack) -> None:
    handler, done = answer_a_then_echo(b"HTTP/1.1 200 X\r\nContent-Length: 5\r\n\r\nfirst", later=LEAK)
    one_conn.monolith.handler = handler
    assert one_conn.request("GET", "/a")[2] == b"first"
    wait_until(lambda: done, what="the stray response to be sent")
    second_client_gets_its_own(one_conn)
    assert one_conn.monolith.connections == 2


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 X\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n",  # bad chunk size
        b"HTTP/1.1 200 X\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX3\r\nabc\r\n0\r\n\r\n",  # no CRLF after data
        b"HTTP/1.1 200 X\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nhello",  # two lengths
        b"HTTP/1.1 200 X\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 X\r\nContent-Length: 2\r\n\r\nhello",  # a length too short: bytes after the end
        b"HTTP/1.1 200 X\r\nContent-Length: 2\r\n\r\nhi\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n",  # a 1xx after it
    ],
    ids=["bad-chunk-size", "chunk-overrun", "two-lengths", "length-and-chunked", "short-length", "late-1xx"],
)
def test_a_response_that_breaks_its_framing_gives_that_client_a_502_and_nothing_else(
    one_conn: Stack, raw: bytes
) -> None:
    one_conn.monolith.handler, _ = answer_a_then_echo(raw)
    status, body, data = only_reply(one_conn.port, GET_A)
    assert status == 502 and json.loads(body)["error"] == "upstream_broken"
    assert b"hello" not in data and b"hi" not in body
    second_client_gets_its_own(one_conn)


def test_a_clean_connection_is_reused(one_conn: Stack) -> None:
    for target in ("/1", "/2", "/3"):
        assert one_conn.request("GET", target)[0] == 200
    assert one_conn.monolith.connections == 1


# --- the pool on its own, against a raw upstream on a thread -------------------------------------------------------


class RawUpstream:
    """Answers each request (a head, and a body by Content-Length) with a fixed 200, then does `after` to the
    connection (`close`, or stray bytes) and sets `acted`."""

    def __init__(self, after: bytes | None) -> None:
        self.after = after
        self.acted = threading.Event()
        self.hung_up = threading.Event()  # a client closed a connection
        self.connections = 0
        self.requests: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(sock,), daemon=True).start()

    def _one(self, sock: socket.socket) -> None:
        with sock:
            try:
                self._answer(sock)
            except OSError:  # the pool reset a connection it discarded: a hang-up too
                self.hung_up.set()

    def _answer(self, sock: socket.socket) -> None:
        data = b""
        while True:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    self.hung_up.set()
                    return
                data += chunk
            head, _, data = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(data) < length:
                data += sock.recv(65536)
            data = data[length:]
            self.requests.append(head.split(b"\r\n")[0])
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            if self.after is None:
                continue
            if self.after == b"close":
                sock.shutdown(socket.SHUT_RDWR)
                self.acted.set()
                return
            sock.sendall(self.after)
            self.acted.set()

    def close(self) -> None:
        self.listener.close()


def run_on_pool(upstream: RawUpstream, second_method: str) -> tuple[int, bytes]:
    """One request, then (with the loop held until the upstream has acted) a second one on the same pool."""

    async def scenario() -> tuple[int, bytes]:
        pool = UpstreamPool(Upstream("svc", f"http://127.0.0.1:{upstream.port}", read_timeout=2))
        first = await pool.request("GET", b"/first", [])
        assert b"".join([c async for c in first.chunks()]) == b"ok"
        first.release()
        assert upstream.acted.wait(5)  # blocks the loop: what the upstream did is on the socket, unread
        body = b"{}" if second_method == "POST" else None

        async def pieces() -> AsyncIterator[bytes]:
            yield body

        second = await pool.request(
            second_method, b"/second", [], body=pieces() if body else None, length=len(body) if body else None
        )
        data = b"".join([c async for c in second.chunks()])
        second.release()
        await pool.close()
        return second.status, data

    return asyncio.run(scenario())


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_pooled_connection_the_upstream_closed_is_skipped_for_a_fresh_one_for_any_method(method: str) -> None:
    upstream = RawUpstream(after=b"close")
    try:
        assert run_on_pool(upstream, method) == (200, b"ok")
        assert upstream.connections == 2 and len(upstream.requests) == 2
    finally:
        upstream.close()


def test_bytes_waiting_unread_on_an_idle_connection_make_it_unusable() -> None:
    upstream = RawUpstream(after=LEAK)
    try:
        assert run_on_pool(upstream, "GET") == (200, b"ok")
        assert upstream.connections == 2
    finally:
        upstream.close()


def test_idle_connections_are_closed_on_time_without_another_request() -> None:
    upstream = RawUpstream(after=None)

    async def scenario() -> None:
        pool = UpstreamPool(Upstream("svc", f"http://127.0.0.1:{upstream.port}"), idle_seconds=0.2)
        response = await pool.request("GET", b"/x", [])
        _ = [c async for c in response.chunks()]
        response.release()
        assert pool.open_connections == 1
        started = asyncio.get_running_loop().time()
        assert await asyncio.to_thread(upstream.hung_up.wait, 2)
        assert asyncio.get_running_loop().time() - started < 1
        assert pool.open_connections == 0

    try:
        asyncio.run(scenario())
    finally:
        upstream.close()
