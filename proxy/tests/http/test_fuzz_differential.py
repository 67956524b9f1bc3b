"""Differential fuzzing of the client side (issue 9): generated and mutated requests and pipelines — framing headers
and their ``Connection`` nominations, chunk encodings, header-name variants, HTTP versions, ``Expect`` — sent on
raw sockets through the proxy to a recording upstream that parses what it gets with h11 (the reference parser).

For every input one of two things holds, else the example fails:

* the upstream parsed, without an error, exactly the requests the proxy decided to forward, and each is the request
  the client sent as h11 reads the client's bytes (method, target, body); the client got their responses, in
  order, and no other upstream response;
* and after those, either nothing more (the input ended or asked to close) or one refusal from the proxy — a 4xx
  with its JSON body — and the connection closed. The proxy may refuse what h11 would accept (it is stricter where
  RFC 9112 lets a server be), never forward what h11 reads differently.

Each input ends with a request that closes the connection, so an intact stream ends by itself; a stream whose
framing swallowed it ends with the proxy's 408. It runs twice: with bodies read whole before anything goes
upstream (the default buffer), and with a 64-byte buffer, so that longer bodies stream (a streamed request whose
body then turns out bad is cut off upstream, never completed). Derandomized (a fixed seed):
`STRANGLER_FUZZ_EXAMPLES` sets the number of inputs of each run (`make fuzz` runs many more).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
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
from strangler_proxy.http.server import ProxyServer, ServerLimits

# inputs per body-buffer setting: about a minute for both on a busy 2-core machine
EXAMPLES = int(os.environ.get("STRANGLER_FUZZ_EXAMPLES", "1000"))
SENTINEL = b"GET /fz/end HTTP/1.1\r\nHost: fuzz.test\r\nConnection: close\r\n\r\n"
TOKEN_CHARS = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
PROXY_REFUSALS = {400, 408, 413, 414, 431, 505}


# --- the recording upstream ---------------------------------------------------------------------------------------


@dataclass
class Forwarded:
    method: bytes
    target: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""

    @property
    def echo(self) -> bytes:
        digest = hashlib.sha256(self.method + b" " + self.target + b"\n" + self.body).hexdigest()[:16]
        return self.method + b" " + digest.encode()


@dataclass
class RecordingUpstream:
    """An HTTP/1.1 server on h11: what it parsed, in order, and any way the bytes broke h11 or the framing rules."""

    forwarded: list[Forwarded] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    cut: int = 0  # requests whose connection the proxy cut before their end (a streamed body that went wrong)
    server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        current: Forwarded | None = None
        ended = False
        try:
            while True:
                try:
                    ev = conn.next_event()
                except h11.RemoteProtocolError as exc:
                    if ended and current is not None:
                        self.cut += 1  # cut mid-body: never complete, so never processed
                    else:
                        self.problems.append(f"h11 could not parse what the proxy sent: {exc}")
                    return
                if ev is h11.NEED_DATA:
                    data = await reader.read(65536)
                    conn.receive_data(data)
                    ended = not data
                elif isinstance(ev, h11.Request):
                    current = Forwarded(ev.method, ev.target, list(ev.headers.raw_items()))
                    self._check_head(current)
                elif isinstance(ev, h11.Data) and current is not None:
                    current.body += ev.data
                elif isinstance(ev, h11.EndOfMessage) and current is not None:
                    self.forwarded.append(current)
                    writer.write(self._answer(conn, current))
                    await writer.drain()
                    current = None
                    if conn.our_state is h11.MUST_CLOSE:
                        return
                    conn.start_next_cycle()
                elif isinstance(ev, h11.ConnectionClosed):
                    return
        except ConnectionError:
            return
        finally:
            writer.close()

    def _check_head(self, request: Forwarded) -> None:
        """What h11 lets pass but the proxy must never send: bad names, duplicate or conflicting framing."""
        names = [n.lower() for n, _ in request.headers]
        for name in names:
            if not name or not set(name) <= TOKEN_CHARS or b"_" in name:
                self.problems.append(f"header name {name!r} sent upstream")
            if name.startswith(b"x-strangler-"):
                self.problems.append(f"internal header {name!r} sent upstream")
        framing = names.count(b"content-length") + names.count(b"transfer-encoding")
        if framing > 1 or names.count(b"host") != 1:
            self.problems.append(f"framing or Host repeated: {names}")

    @staticmethod
    def _answer(conn: h11.Connection, request: Forwarded) -> bytes:
        body = json.dumps({"target": request.target.decode("latin-1"), "size": len(request.body)}).encode()
        headers = [("content-type", "application/json"), ("content-length", str(len(body))), ("x-echo", request.echo)]
        out = conn.send(h11.Response(status_code=200, headers=headers)) or b""
        if request.method != b"HEAD":
            out += conn.send(h11.Data(data=body)) or b""
        return out + (conn.send(h11.EndOfMessage()) or b"")


@dataclass
class FuzzStack:
    port: int
    upstream: RecordingUpstream


@pytest.fixture(scope="module", params=[1 << 20, 64], ids=["bodies-buffered", "bodies-streamed"])
def fuzz_stack(loop_thread: LoopThread, request: pytest.FixtureRequest) -> Iterator[FuzzStack]:
    """The proxy in front of the recording upstream; once with the default body buffer (every generated body is read
    whole, then sent with its length), once with a 64-byte one (longer bodies stream: with their length, or
    chunked again)."""
    upstream = RecordingUpstream()
    # Short timeouts: a stream whose framing swallowed the closing request is refused (408) quickly. The head's is
    # also the wait for a new connection's first byte, which a busy loop may see after its timer (libuv runs due
    # timers before it polls): at 0.25 s a loaded machine closed an example's connection before reading it, so 1 s.
    limits = ServerLimits(
        header_timeout=1.0, body_timeout=0.25, keepalive_timeout=1, body_min_rate=0, body_buffer=request.param
    )

    async def start() -> ProxyServer:
        url = await upstream.start()
        table = RouteTable(version=1, upstreams={"monolith": Upstream("monolith", url, read_timeout=5)}, routes=())
        server = ProxyServer(public_app=ProxyApp(table), host="127.0.0.1", port=0, limits=limits)
        await server.start()
        return server

    server = loop_thread.run(start())
    yield FuzzStack(server.public_port, upstream)
    loop_thread.run(server.stop())
    loop_thread.run(upstream.stop())


# --- what the client sends ---------------------------------------------------------------------------------------

METHODS = [b"GET", b"HEAD", b"POST", b"PUT", b"PATCH", b"DELETE", b"OPTIONS"]
VERSIONS = [b"HTTP/1.1"] * 40 + [b"HTTP/1.0"] * 6 + [b"HTTP/1.2", b"HTTP/2.0", b"HTTP/1.01", b"http/1.1"]
FRAMINGS = [
    *["none", "length", "chunked"] * 20,
    *["length_short", "length_long", "length_twice", "length_two_values", "length_signed", "length_list"],
    *["length_zeros", "length_space_before_colon", "length_underscore", "chunked_bad", "chunked_variant"],
    *["chunked_underscore", "length_and_chunked", "chunked_twice", "body_without_framing"],
]
CODINGS = [b"Chunked", b"chunked ", b" chunked", b"chunked, chunked", b"gzip, chunked", b"identity", b"CHUNKED"]
NOMINATIONS = [b"close", b"keep-alive", b"content-length", b"transfer-encoding", b"host", b"x-forwarded-for"]
NOMINATIONS += [b"via", b"x-custom", b"upgrade", b"te", b"x-request-id"]
EXTRAS = [
    *[b"X-Custom: 1"] * 10,
    b"X_Strangler_Identity: forged",
    b"x-strangler-identity: forged",
    b"X-Strangler-Shadow: 1",
    b"Upgrade: websocket",
    b"TE: trailers",
    b"X@Bad: 1",
    b"X-Fold: a\r\n b",
    b"Expect: 100-continue",
    b"X-Empty:",
]


@st.composite
def chunked(draw: st.DrawFn, body: bytes, *, broken: bool = False) -> bytes:
    """`body` in chunks of drawn sizes, with extensions, upper-case or zero-padded sizes, trailers; `broken` corrupts
    one size line or chunk end."""
    pieces: list[bytes] = []
    rest = body
    while rest:
        size = draw(st.integers(1, len(rest)))
        pieces.append(rest[:size])
        rest = rest[size:]
    out = b""
    for piece in pieces:
        size = b"%x" % len(piece)
        size = draw(st.sampled_from([size, size.upper(), b"0" + size]))
        ext = draw(st.sampled_from([b"", b"", b";a=b", b';q="x"']))
        out += size + ext + b"\r\n" + piece + b"\r\n"
    out += b"0\r\n" + draw(st.sampled_from([b"", b"", b"X-Trailer: 1\r\n", b"Content-Length: 99\r\n"])) + b"\r\n"
    if broken:
        damage = draw(st.sampled_from([b"zz\r\n", b"4 \r\n", b"\r\n\r\n", b"-1\r\n", b"ffffffffffffffffff\r\n"]))
        cut = draw(st.integers(0, len(out)))
        out = out[:cut] + damage + out[cut:]
    return out


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    method = draw(st.sampled_from(METHODS))
    target = b"/fz/" + draw(st.text("abcxyz019", max_size=6)).encode()
    if draw(st.booleans()):
        target += b"?" + draw(st.text("abq=&19", min_size=1, max_size=8)).encode()
    version = draw(st.sampled_from(VERSIONS))
    framing = draw(st.sampled_from(FRAMINGS))
    body = b"" if framing == "none" else draw(st.binary(min_size=0, max_size=200))
    cl = draw(st.sampled_from([b"Content-Length", b"content-length", b"CONTENT-LENGTH"]))
    te = draw(st.sampled_from([b"Transfer-Encoding", b"transfer-encoding"]))
    headers: list[bytes] = []
    payload = body
    if framing == "length":
        headers.append(cl + b": %d" % len(body))
    elif framing == "length_short":
        headers.append(cl + b": %d" % max(len(body) - draw(st.integers(1, 20)), 0))
    elif framing == "length_long":
        headers.append(cl + b": %d" % (len(body) + draw(st.sampled_from([1, 2, 7, 20, 300]))))
    elif framing == "length_twice":
        headers += [cl + b": %d" % len(body)] * 2
    elif framing == "length_two_values":
        headers += [cl + b": %d" % len(body), cl + b": %d" % (len(body) + 1)]
    elif framing == "length_signed":
        headers.append(cl + b": +%d" % len(body))
    elif framing == "length_list":
        headers.append(cl + b": %d, %d" % (len(body), len(body)))
    elif framing == "length_zeros":
        headers.append(cl + b": 00%d" % len(body))
    elif framing == "length_space_before_colon":
        headers.append(cl + b" : %d" % len(body))
    elif framing == "length_underscore":
        headers.append(b"Content_Length: %d" % len(body))
    elif framing in ("chunked", "chunked_bad", "chunked_twice", "chunked_underscore", "chunked_variant"):
        name = b"Transfer_Encoding" if framing == "chunked_underscore" else te
        coding = draw(st.sampled_from(CODINGS)) if framing == "chunked_variant" else b"chunked"
        headers += [name + b": " + coding] * (2 if framing == "chunked_twice" else 1)
        payload = draw(chunked(body, broken=framing == "chunked_bad"))
    elif framing == "length_and_chunked":
        headers += [cl + b": %d" % len(body), te + b": chunked"]
        payload = draw(chunked(body))
    # "none" and "body_without_framing": no framing header (the latter's body reads as the next request)
    host = draw(st.sampled_from([[b"Host: fuzz.test"]] * 30 + [[], [b"Host: a", b"Host: b"]]))
    headers += host
    nominated = draw(st.lists(st.sampled_from(NOMINATIONS), max_size=3))
    if nominated:
        headers.append(b"Connection: " + b", ".join(nominated))
    headers += draw(st.lists(st.sampled_from(EXTRAS), max_size=2))
    headers = draw(st.permutations(headers))
    head = method + b" " + target + b" " + version + b"\r\n" + b"".join(h + b"\r\n" for h in headers)
    return head + b"\r\n" + payload


@st.composite
def pipelines(draw: st.DrawFn) -> list[bytes]:
    """Requests on one connection and the sentinel, cut into up to three writes."""
    data = b"".join(draw(st.lists(requests(), min_size=1, max_size=4))) + SENTINEL
    cuts = sorted(draw(st.lists(st.integers(1, len(data) - 1), max_size=2, unique=True)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# --- the reference reading and the replies ------------------------------------------------------------------------


@dataclass
class Reading:
    requests: list[Forwarded]
    ending: str  # "close" (asked to close), "error" (malformed), "incomplete" (more bytes needed)


def read_as_h11(data: bytes) -> Reading:
    """The client's bytes as h11 reads them as a server, one request per reader: HTTP/1.0 keep-alive (which h11 does
    not do) goes on, as the proxy does."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    found: list[Forwarded] = []
    current: Forwarded | None = None
    keep_alive_1_0 = False
    while True:
        try:
            ev = conn.next_event()
        except h11.RemoteProtocolError:
            return Reading(found, "error")
        if ev is h11.NEED_DATA:
            return Reading(found, "incomplete")
        if isinstance(ev, h11.Request):
            current = Forwarded(ev.method, ev.target, list(ev.headers.raw_items()))
            tokens = b",".join(v.lower() for n, v in ev.headers.raw_items() if n.lower() == b"connection")
            keep_alive_1_0 = ev.http_version == b"1.0" and b"keep-alive" in [t.strip() for t in tokens.split(b",")]
        elif isinstance(ev, h11.Data) and current is not None:
            current.body += ev.data
        elif isinstance(ev, h11.EndOfMessage) and current is not None:
            found.append(current)
            conn.send(h11.Response(status_code=200, headers=[("content-length", "0")]))
            conn.send(h11.EndOfMessage())
            if conn.our_state is h11.MUST_CLOSE and (not keep_alive_1_0 or b"close" in tokens):
                return Reading(found, "close")
            # The next request, with a fresh reader: empty lines before a request line are skipped (RFC 9112 §2.2
            # says a server SHOULD; llhttp does, h11 does not).
            rest, _ = conn.trailing_data
            conn = h11.Connection(h11.SERVER)
            conn.receive_data(rest.lstrip(b"\r\n"))
        else:
            return Reading(found, "error")


@dataclass
class Reply:
    status: int
    headers: dict[bytes, bytes]
    body: bytes


def replies_in(data: bytes) -> tuple[list[Reply], bytes]:
    """The final responses in `data` (1xx skipped) and what is left. An upstream's answer names its request's method
    in `x-echo`, so a HEAD answer is read without a body; the proxy's own answers always carry theirs."""
    replies: list[Reply] = []
    while True:
        head, sep, after = data.partition(b"\r\n\r\n")
        if not sep:
            return replies, data
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {n.strip().lower(): v.strip() for n, _, v in (line.partition(b":") for line in lines[1:])}
        if 100 <= status < 200:
            data = after
            continue
        size = 0 if headers.get(b"x-echo", b"").startswith(b"HEAD ") else int(headers.get(b"content-length", b"0"))
        if len(after) < size:
            return replies, data
        replies.append(Reply(status, headers, after[:size]))
        data = after[size:]


def talk(port: int, writes: list[bytes]) -> tuple[bytes, bool]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        with contextlib.suppress(OSError):  # the proxy may refuse and close before it has everything
            for piece in writes:
                sock.sendall(piece)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            return received, False
        except ConnectionResetError:
            pass
        return received, True


# --- the property -------------------------------------------------------------------------------------------------


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(writes=pipelines())
def test_the_upstream_gets_exactly_what_the_proxy_answers_for_and_reads_it_as_h11_reads_the_client(
    fuzz_stack: FuzzStack, writes: list[bytes]
) -> None:
    upstream = fuzz_stack.upstream
    upstream.forwarded.clear()
    upstream.problems.clear()
    upstream.cut = 0
    received, closed = talk(fuzz_stack.port, writes)
    reference = read_as_h11(b"".join(writes))
    forwarded = list(upstream.forwarded)
    replies, left = replies_in(received)

    assert upstream.problems == [], upstream.problems
    assert closed, "the connection neither ended nor was refused"
    assert left == b"", f"bytes that are no response: {left[:200]!r}"
    # every request forwarded was answered, in order, to this client; no other upstream answer reached it
    echoes = [r.headers.get(b"x-echo") for r in replies if b"x-echo" in r.headers]
    assert echoes == [f.echo for f in forwarded]
    assert [r.headers.get(b"x-echo") for r in replies[: len(forwarded)]] == echoes
    # and each is the request the client sent, as the reference parser reads the client's bytes
    assert len(forwarded) <= len(reference.requests), "the proxy forwarded a request h11 does not read"
    for sent, read in zip(forwarded, reference.requests, strict=False):
        assert (sent.method, sent.target, sent.body) == (read.method, read.target, read.body)
    # after them: nothing, or one refusal of the proxy's own, and the end of the connection
    rest = replies[len(forwarded) :]
    if rest:
        (refusal,) = rest
        assert refusal.status in PROXY_REFUSALS, (refusal.status, refusal.body)
        assert json.loads(refusal.body)["producer"] == "strangler-proxy"
        assert refusal.headers.get(b"connection") == b"close"
    if len(forwarded) < len(reference.requests) or reference.ending != "close":
        assert rest, "a request the proxy did not forward was not refused"
        stricter = " where h11 read on" if len(forwarded) < len(reference.requests) else ""
        event(f"refused {rest[0].status}{stricter}: {json.loads(rest[0].body)['detail']}")
    event(f"forwarded {len(forwarded)}, h11 ended with {reference.ending}")
    if upstream.cut:  # counted when the upstream sees the cut, which may be after its input's example ended
        event("a streamed request cut off upstream")
