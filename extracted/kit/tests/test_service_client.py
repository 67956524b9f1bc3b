"""A kit service asking another: reads retried on what a retry can fix, every failure the API's 503, and a breaker
that stops asking a service that keeps failing. Against a real HTTP server on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from strangler_kit.circuit_breaker import CircuitBreaker
from strangler_kit.errors import Unavailable
from strangler_kit.service_client import ServiceClient
from strangler_kit.testing import send_json


class Scripted(ThreadingHTTPServer):
    """Answers each GET with the next status of `script` (then 200), counting what it was asked."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.script: list[int] = []
        self.asked: list[str] = []


class Handler(BaseHTTPRequestHandler):
    server: Scripted

    def do_GET(self) -> None:
        self.server.asked.append(self.path)
        send_json(self, self.server.script.pop(0) if self.server.script else 200, {"path": self.path})

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Scripted]:
    running = Scripted()
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()


def client_of(url: str, **options: object) -> ServiceClient:
    return ServiceClient(name="catalog service", base_url=url, timeout_s=2.0, **options)  # type: ignore[arg-type]


def url_of(server: Scripted) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_a_200_is_its_json(server):
    assert client_of(url_of(server)).get_json("/api/things/", params={"ids": "1,2"}) == {
        "path": "/api/things/?ids=1%2C2"
    }


def test_a_503_is_asked_again_and_the_answer_after_it_counts(server):
    server.script = [503, 502]

    assert client_of(url_of(server)).get_json("/x", params={}) == {"path": "/x"}
    assert len(server.asked) == 3


def test_a_refusal_is_final_and_unavailable(server):
    server.script = [404]

    with pytest.raises(Unavailable, match="refused the lookup with 404") as failed:
        client_of(url_of(server)).get_json("/x", params={})

    assert len(server.asked) == 1
    assert failed.value.code == "service_unavailable"


def test_three_503s_in_a_row_are_unavailable(server):
    server.script = [503, 503, 503]

    with pytest.raises(Unavailable, match="answered 503"):
        client_of(url_of(server)).get_json("/x", params={})


def test_a_service_that_is_not_listening_is_unavailable():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]  # closed when the block ends: nothing listens there

    with pytest.raises(Unavailable, match="connection was refused"):
        client_of(f"http://127.0.0.1:{port}").get_json("/x", params={})


def test_the_breaker_opens_after_repeated_failures_and_then_nothing_is_asked(server):
    client = client_of(url_of(server), breaker=CircuitBreaker(threshold=2, cooldown_s=60))
    server.script = [500, 500]
    for _ in range(2):
        with pytest.raises(Unavailable):
            client.get_json("/x", params={})

    with pytest.raises(Unavailable, match="failed repeatedly") as refused:
        client.get_json("/x", params={})

    assert len(server.asked) == 2
    assert refused.value.retry_after == 60
