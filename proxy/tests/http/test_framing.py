"""Response framing: whatever the upstream used, the client gets a correctly delimited response."""

from __future__ import annotations

import asyncio

from conftest import Stack
from upstream_double import Received


def test_an_upstream_body_delimited_by_close_reaches_a_1_1_client_chunked(stack: Stack) -> None:
    async def until_close(req: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nuntil the end")
        await writer.drain()
        writer.close()

    stack.monolith.handler = until_close
    reply = stack.raw(b"GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    assert body == b"d\r\nuntil the end\r\n0\r\n\r\n"


def test_a_chunked_upstream_body_reaches_a_1_0_client_delimited_by_close(stack: Stack) -> None:
    async def chunked(req: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"6\r\n world\r\n0\r\n\r\n")
        await writer.drain()

    stack.monolith.handler = chunked
    reply = stack.raw(b"GET /x HTTP/1.0\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower() and b"connection: close" in head.lower()
    assert body == b"hello world"


def test_a_chunked_upstream_body_stays_chunked_for_a_1_1_client(stack: Stack) -> None:
    async def chunked(req: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"6\r\n world\r\n0\r\n\r\n")
        await writer.drain()

    stack.monolith.handler = chunked
    status, headers, body = stack.request("GET", "/x")
    assert status == 200 and body == b"hello world" and headers["transfer-encoding"] == "chunked"


def test_no_body_statuses_carry_no_body_and_the_connection_stays_usable(stack: Stack) -> None:
    async def empty(req: Received, writer: asyncio.StreamWriter) -> None:
        status = b"204 No Content" if req.target == b"/204" else b"304 Not Modified"
        writer.write(b"HTTP/1.1 " + status + b'\r\nETag: "v1"\r\n\r\n')
        await writer.drain()

    stack.monolith.handler = empty
    client = stack.client()
    assert client.request("GET", "/204")[0] == 204
    status, headers, body = client.request("GET", "/304", headers={"If-None-Match": '"v1"'})
    assert (status, body, headers["etag"]) == (304, b"", '"v1"')
    client.close()
    assert len(stack.monolith.received) == 2


def test_a_small_head_sharing_a_write_with_a_large_body_passes(stack: Stack) -> None:
    body = b"b" * 300_000

    async def one_write(req: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()

    stack.monolith.handler = one_write
    status, _, got = stack.request("GET", "/x")
    assert status == 200 and got == body


def test_an_oversized_response_head_gives_a_502(stack: Stack) -> None:
    async def huge_head(req: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 100_000 + b"\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    stack.monolith.handler = huge_head
    status, _, body = stack.request("POST", "/x", body=b"")
    assert status == 502 and b"response head too large" in body
