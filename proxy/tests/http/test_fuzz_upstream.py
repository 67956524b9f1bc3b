"""Faulty-upstream fuzzing (issue 9, class 4): the upstream answers client A with a generated, often broken response
— 1xx before it, wrong, duplicate or conflicting lengths, bad chunks, trailers, an early close, extra bytes right
after it ("now") and extra bytes or a close once the connection sits idle ("later") — then client B asks for its own
response, on the same pooled connection if the proxy kept it (one connection per upstream).

For every input, else the example fails:

* A's bytes are one HTTP/1.1 response as h11 (the reference parser) reads it, complete, or cut off mid-body by the
  proxy (a failure after the response started), and never a trailer field as a header;
* B gets exactly its own response: status 200, its token as the body, nothing before or after it — never a byte of
  A's response or of what the upstream sent unasked.

Derandomized (a fixed seed); `STRANGLER_UPSTREAM_FUZZ_EXAMPLES` sets the number of inputs (`make fuzz` runs many
more).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import h11
import pytest
from conftest import LoopThread
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from strangler_proxy.dataplane.app import ProxyApp
from strangler_proxy.dataplane.model import RouteTable, Upstream
from strangler_proxy.dataplane.settings import ProxySettings
from strangler_proxy.http.server import ProxyServer, ServerLimits

EXAMPLES = int(os.environ.get("STRANGLER_UPSTREAM_FUZZ_EXAMPLES", "700"))
LEAK = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nLEAK"
BODY = b"the body of A's response"
TRAILER_NAMES = (b"x-trailer", b"x-strangler-identity", b"set-cookie")


@dataclass
class Script:
    now: bytes  # written at once for A's request
    close_now: bool  # then the connection is closed
    later: bytes | None  # written once A has its answer (b"": the connection is closed then)


@dataclass
class FaultyUpstream:
    script: Script = field(default_factory=lambda: Script(b"", True, None))
    last_a: asyncio.StreamWriter | None = None
    server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")  # bodiless GETs only
                target = head.split(b" ", 2)[1]
                if target.startswith(b"/a/"):
                    self.last_a = writer
                    writer.write(self.script.now)
                    await writer.drain()
                    if self.script.close_now:
                        writer.close()
                        return
                else:
                    token = target.rsplit(b"/", 1)[1]
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(token), token))
                    await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()

    async def send_later(self) -> None:
        writer, later = self.last_a, self.script.later
        if writer is None or later is None or writer.is_closing():
            return
        with contextlib.suppress(ConnectionError):
            if later:
                writer.write(later)
                await writer.drain()
            else:
                writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


@dataclass
class FuzzStack:
    lt: LoopThread
    port: int
    upstream: FaultyUpstream


@pytest.fixture(scope="module")
def faulty(loop_thread: LoopThread) -> Iterator[FuzzStack]:
    upstream = FaultyUpstream()

    async def start() -> ProxyServer:
        url = await upstream.start()
        # One connection, so B goes on A's connection whenever the proxy keeps it; a short read timeout for the
        # responses whose length promises more than ever comes.
        monolith = Upstream("monolith", url, read_timeout=0.3, max_connections=1)
        table = RouteTable(version=1, upstreams={"monolith": monolith}, routes=())
        app = ProxyApp(table, ProxySettings(breaker_failures=0))
        server = ProxyServer(public_app=app, host="127.0.0.1", port=0, limits=ServerLimits(shutdown_grace=1))
        await server.start()
        return server

    server = loop_thread.run(start())
    yield FuzzStack(loop_thread, server.public_port, upstream)
    loop_thread.run(server.stop())
    loop_thread.run(upstream.stop())


# --- what the upstream answers ----------------------------------------------------------------------------------


def chunks(draw: st.DrawFn, body: bytes) -> bytes:
    sizes = draw(st.lists(st.integers(1, 9), min_size=1, max_size=4))
    out, rest = b"", body
    for size in itertools.cycle(sizes):
        if not rest:
            break
        piece, rest = rest[:size], rest[size:]
        ext = draw(st.sampled_from([b"", b"", b";x=1"]))
        out += b"%x%b\r\n%b\r\n" % (len(piece), ext, piece)
    fault = draw(st.sampled_from([None] * 6 + ["bad-size", "no-crlf", "overrun", "no-end"]))
    if fault == "bad-size":
        out += b"zz\r\nxx\r\n"
    elif fault == "no-crlf":
        out = out[:-2] + b"XX"
    elif fault == "overrun":
        out += b"3\r\nabcdef\r\n"
    trailers = draw(
        st.sampled_from(
            [b"", b"", b"X-Trailer: 1\r\n", b"X-Strangler-Identity: v2.forged\r\nSet-Cookie: s=1\r\n", b"X_T: 1\r\n"]
        )
    )
    if fault != "no-end":
        out += b"0\r\n" + trailers + b"\r\n"
    return out


@st.composite
def scripts(draw: st.DrawFn) -> Script:
    interim = draw(
        st.sampled_from([b""] * 4 + [b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 103 Early\r\nLink: </x>\r\n\r\n"])
    )
    status = draw(st.sampled_from([b"200 OK"] * 5 + [b"204 No Content", b"304 Not Modified", b"500 Oops"]))
    framing = draw(
        st.sampled_from(["length"] * 3 + ["chunked"] * 3 + ["short", "long", "two-same", "two-differ", "both", "eof"])
    )
    head = b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain\r\n"
    close_now = False
    if framing == "length":
        head += b"Content-Length: %d\r\n" % len(BODY)
        body = BODY
    elif framing == "chunked":
        head += b"Transfer-Encoding: chunked\r\n"
        body = chunks(draw, BODY)
    elif framing == "short":
        head += b"Content-Length: %d\r\n" % (len(BODY) - draw(st.integers(1, 5)))
        body = BODY
    elif framing == "long":
        head += b"Content-Length: %d\r\n" % (len(BODY) + draw(st.integers(1, 5)))
        body, close_now = BODY, True
    elif framing == "two-same":
        head += b"Content-Length: %d\r\nContent-Length: %d\r\n" % (len(BODY), len(BODY))
        body = BODY
    elif framing == "two-differ":
        head += b"Content-Length: %d\r\nContent-Length: 3\r\n" % len(BODY)
        body = BODY
    elif framing == "both":
        head += b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % len(BODY)
        body = chunks(draw, BODY)
    else:
        body, close_now = BODY, True
    if status.startswith((b"204", b"304")):
        body = body if draw(st.booleans()) else b""
    now = interim + head + b"\r\n" + body
    now += draw(st.sampled_from([b""] * 6 + [LEAK, b"junk", b"\r\n", b"HTTP/1.1 100 Continue\r\n\r\n"]))
    if draw(st.integers(0, 9)) == 0:  # an early close somewhere in the response
        now, close_now = now[: draw(st.integers(0, len(now)))], True
    later = None if close_now else draw(st.sampled_from([None] * 4 + [LEAK, b"x", b"\r\n", b""]))
    event(f"framing {framing}")
    return Script(now, close_now or draw(st.integers(0, 9)) == 0, later)


# --- the clients ------------------------------------------------------------------------------------------------

_tokens = itertools.count()


def talk(port: int, target: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: fuzz.test\r\nConnection: close\r\n\r\n")
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                received += chunk
        return received


def read_response(data: bytes) -> tuple[h11.Response, bytes, bool]:
    """The one response in `data` as h11 reads it: the response, its body, and whether it was complete (and then
    nothing came after it)."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("host", "fuzz.test")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    conn.receive_data(b"")
    response: h11.Response | None = None
    body = b""
    while True:
        try:
            ev = conn.next_event()
        except h11.RemoteProtocolError as exc:
            assert response is not None, f"h11 cannot read the response: {exc}: {data[:300]!r}"
            return response, body, False  # cut off mid-body
        if isinstance(ev, h11.Response):
            response = ev
        elif isinstance(ev, h11.Data):
            body += ev.data
        elif isinstance(ev, h11.EndOfMessage):
            assert response is not None
            assert conn.trailing_data[0] == b"", f"bytes after the response: {conn.trailing_data[0][:200]!r}"
            return response, body, True
        elif ev is h11.NEED_DATA or isinstance(ev, h11.ConnectionClosed):
            raise AssertionError(f"no response in {data[:300]!r}")


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(script=scripts())
def test_a_later_client_never_sees_a_byte_of_another_response(faulty: FuzzStack, script: Script) -> None:
    faulty.upstream.script = script
    n = next(_tokens)
    got_a = talk(faulty.port, b"/a/%d" % n)
    faulty.lt.run(faulty.upstream.send_later())

    response, body, complete = read_response(got_a)
    names = [name.lower() for name, _ in response.headers.raw_items()]
    assert not any(name in names for name in TRAILER_NAMES), response.headers
    if response.status_code in (502, 504):
        assert json.loads(body)["producer"] == "strangler-proxy" and complete
    if not complete:
        event("A cut off mid-body")
    event(f"A got {response.status_code}")

    token = b"token-%d" % n
    got_b = talk(faulty.port, b"/b/" + token)
    b_response, b_body, b_complete = read_response(got_b)
    assert (b_response.status_code, b_body, b_complete) == (200, token, True), got_b
    assert got_b.count(b"HTTP/1.1") == 1 and b"LEAK" not in got_b and BODY not in got_b, got_b
