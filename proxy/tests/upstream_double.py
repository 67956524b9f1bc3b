"""A recording HTTP/1.1 upstream for tests, with its own small parser (deliberately not httptools, so that the
proxy's parsing is checked against an independent reading of the bytes on the wire)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class Received:
    method: str
    target: bytes
    headers: list[tuple[bytes, bytes]]  # names as sent on the wire
    body: bytes
    body_size: int
    chunked: bool

    @property
    def path(self) -> bytes:
        return self.target.partition(b"?")[0]

    @property
    def query(self) -> bytes:
        return self.target.partition(b"?")[2]

    def header(self, name: str) -> bytes | None:
        for n, v in self.headers:
            if n.lower() == name.lower().encode():
                return v
        return None

    def header_names(self) -> list[str]:
        return [n.decode().lower() for n, _ in self.headers]


Handler = Callable[[Received, asyncio.StreamWriter], Awaitable[None]]


async def respond(
    writer: asyncio.StreamWriter, status: int = 200, headers: list[tuple[bytes, bytes]] | None = None, body: bytes = b""
) -> None:
    head = [b"HTTP/1.1 %d X\r\n" % status]
    hdrs = headers if headers is not None else [(b"Content-Type", b"application/json")]
    if not any(n.lower() in (b"content-length", b"transfer-encoding") for n, _ in hdrs):
        hdrs = [*hdrs, (b"Content-Length", str(len(body)).encode())]
    head += [n + b": " + v + b"\r\n" for n, v in hdrs]
    writer.write(b"".join(head) + b"\r\n" + body)
    await writer.drain()


async def echo(req: Received, writer: asyncio.StreamWriter) -> None:
    body = json.dumps({"method": req.method, "target": req.target.decode("latin-1"), "size": req.body_size}).encode()
    await respond(writer, 200, None, body)


@dataclass
class Upstream:
    name: str
    handler: Handler = echo
    keep_body: int = 1 << 20  # bodies larger than this are counted, not kept
    received: list[Received] = field(default_factory=list)
    heads: list[bytes] = field(default_factory=list)  # each request's target, as soon as its head arrived
    # Like a sync WSGI server's worker pool: a worker is taken from a request's head until its response is sent
    # (reading the body included); None: unlimited.
    workers: int | None = None
    connections: int = 0
    server: asyncio.Server | None = None
    port: int = 0
    _workers: asyncio.Semaphore | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        # the same port again after a stop (a restarted service), a free one the first time
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 1)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        workers = self._pool()
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                self.heads.append(head.split(b" ", 2)[1])
                async with workers:
                    if not await self._one_request(head, reader, writer) or writer.is_closing():
                        return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    def _pool(self) -> asyncio.Semaphore | contextlib.AbstractAsyncContextManager[None]:
        if self.workers is None:
            return contextlib.nullcontext()
        if self._workers is None:
            self._workers = asyncio.Semaphore(self.workers)
        return self._workers

    async def _one_request(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Read one request's body and answer it; False when the connection ended first."""
        lines = head[:-4].split(b"\r\n")
        method, target, _version = lines[0].split(b" ")
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers.append((name, value.strip()))
        lower = {n.lower(): v for n, v in headers}
        body = bytearray()
        size = 0
        chunked = lower.get(b"transfer-encoding", b"").lower() == b"chunked"
        if chunked:
            while True:
                size_line = await reader.readuntil(b"\r\n")
                n = int(size_line.strip().split(b";")[0], 16)
                if n == 0:
                    await reader.readuntil(b"\r\n")
                    break
                remaining = n
                while remaining:
                    piece = await reader.read(min(remaining, 1 << 16))
                    if not piece:
                        return False
                    remaining -= len(piece)
                    size += len(piece)
                    if len(body) < self.keep_body:
                        body += piece
                await reader.readexactly(2)
        elif b"content-length" in lower:
            remaining = int(lower[b"content-length"])
            while remaining:
                piece = await reader.read(min(remaining, 1 << 16))
                if not piece:
                    return False
                remaining -= len(piece)
                size += len(piece)
                if len(body) < self.keep_body:
                    body += piece
        req = Received(method.decode(), target, headers, bytes(body), size, chunked)
        self.received.append(req)
        await self.handler(req, writer)
        return True
