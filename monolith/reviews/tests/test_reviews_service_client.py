"""The reviews seam's client against a loopback stand-in that answers each request with the next scripted status:
reads are asked again after a gateway error, a write is sent once (a second POST could write a second review), and
the 503 says whether the write may have been applied."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from common.errors import Unavailable
from common.testing_services import IDENTITY_KEY, free_port
from reviews.service_client import ReviewsServiceClient


@dataclass
class Double:
    statuses: list[int]
    seen: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def double() -> Iterator[Double]:
    script = Double([200])

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            script.seen.append(f"{self.command} {self.path}")
            status = script.statuses.pop(0) if len(script.statuses) > 1 else script.statuses[0]
            body = b'{"count": 0, "average": null}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    script.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield script
    finally:
        server.shutdown()
        server.server_close()


def client_for(url: str) -> ReviewsServiceClient:
    return ReviewsServiceClient(base_url=url, identity_key=IDENTITY_KEY, timeout_s=2.0)


def test_a_read_answered_502_or_503_is_asked_again(double):
    double.statuses = [503, 502, 200]

    answer = client_for(double.url).relay("GET", "/api/reviews/?product=7", headers={}, body=b"")

    assert answer.status == 200
    assert double.seen == ["GET /api/reviews/?product=7"] * 3


def test_a_write_is_sent_once_and_a_gateway_error_says_it_may_have_been_written(double):
    double.statuses = [503, 201]

    with pytest.raises(Unavailable, match="may or may not have been written") as refused:
        client_for(double.url).relay("POST", "/api/reviews/", headers={}, body=b'{"product": 7, "rating": 5}')

    assert double.seen == ["POST /api/reviews/"]
    assert refused.value.retry_after == 1


def test_a_refusal_is_the_services_answer_and_keeps_the_breaker_closed(double):
    double.statuses = [403]
    client = client_for(double.url)

    answer = client.relay("POST", "/api/reviews/", headers={}, body=b"{}")

    assert answer.status == 403 and client.breaker.state == "closed"


def test_a_write_whose_connection_is_refused_changed_nothing():
    with pytest.raises(Unavailable, match="nothing was changed"):
        client_for(f"http://127.0.0.1:{free_port()}").relay("POST", "/api/reviews/", headers={}, body=b"{}")


def test_the_summary_is_read_from_the_service(double):
    assert client_for(double.url).rating_summary(product_id=7) == {"count": 0, "average": None}
    assert double.seen == ["GET /api/reviews/summary/?product=7"]
