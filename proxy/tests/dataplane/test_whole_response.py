"""The hot path's shortcuts never change what a client or a middleware sees: a complete upstream response goes out
in one call (`RequestCycle.send_whole`) only when the app was given the server's own `send`; a middleware that
wraps `send` gets every ASGI message as before. `ProxyApp.__call__` returns its handler's coroutine, and still
looks like an ASGI 3 app to a server that checks."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator

import pytest
from conftest import LoopThread, Stack, make_table, stop_stack
from strangler_proxy.dataplane.app import ProxyApp
from strangler_proxy.http.asgi import Message, Receive, Scope, Send
from strangler_proxy.http.limits import ServerLimits
from strangler_proxy.http.server import ProxyServer
from upstream_double import Upstream


class Recorder:
    """A middleware that wraps `send` and keeps every message the app sends."""

    def __init__(self, app: ProxyApp) -> None:
        self.app = app
        self.messages: list[Message] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def recording_send(message: Message) -> None:
            if scope["type"] == "http":
                self.messages.append(message)
            await send(message)

        await self.app(scope, receive, recording_send)


@pytest.fixture
def recorded(loop_thread: LoopThread) -> Iterator[tuple[Stack, Recorder]]:
    async def start() -> tuple[Stack, Recorder]:
        monolith, catalog = Upstream("monolith"), Upstream("catalog")
        await monolith.start()
        await catalog.start()
        app = ProxyApp(make_table(monolith.url, catalog.url, ()))
        recorder = Recorder(app)
        server = ProxyServer(public_app=recorder, host="127.0.0.1", port=0, limits=ServerLimits(shutdown_grace=1))
        await server.start()
        return Stack(loop_thread, monolith, catalog, app, server), recorder

    stack, recorder = loop_thread.run(start())
    yield stack, recorder
    stop_stack(stack)


def test_a_middleware_that_wraps_send_sees_the_whole_response_as_asgi_messages(
    recorded: tuple[Stack, Recorder],
) -> None:
    stack, recorder = recorded
    status, headers, body = stack.request("GET", "/x")
    assert status == 200 and body
    kinds = [m["type"] for m in recorder.messages]
    assert kinds == ["http.response.start", "http.response.body"]
    assert recorder.messages[1]["body"] == body and not recorder.messages[1].get("more_body", False)
    sent = {name.decode(): value.decode() for name, value in recorder.messages[0]["headers"]}
    assert sent["x-request-id"] == headers["x-request-id"]


def test_the_servers_own_send_gives_the_same_answer_in_one_write(stack: Stack) -> None:
    answer = stack.raw(b"GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    assert lines[0] == b"http/1.1 200 ok"
    lengths = [line for line in lines if line.startswith(b"content-length:")]
    assert lengths == [b"content-length: %d" % len(body)] and body
    assert sum(line.startswith(b"x-request-id:") for line in lines) == 1
    assert b"connection: close" in lines


def test_the_app_is_an_asgi_3_app_to_servers_that_check(stack: Stack) -> None:
    assert inspect.iscoroutinefunction(stack.app.__call__)
    assert asyncio.iscoroutinefunction(stack.app.__call__)
