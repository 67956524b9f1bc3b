"""The HTTP implementation of the catalog's reads against the real catalog service on loopback (batches, the
service principal, refusals), and against a loopback double only for what the real service cannot be made to do
on demand: answer 5xx, or fail once and then answer."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from catalog.reads import PriceQuote
from catalog.service_client import PRODUCTS_PATH, CatalogServiceClient
from common.circuit_breaker import CircuitBreaker
from common.errors import Unavailable
from common.testing_services import IDENTITY_KEY, CatalogService, free_port

LOG_WAIT_S = 5.0


def client_for(url: str, *, key: str = IDENTITY_KEY, timeout_s: float = 2.0, **breaker: Any) -> CatalogServiceClient:
    return CatalogServiceClient(
        base_url=url, identity_key=key, timeout_s=timeout_s, breaker=CircuitBreaker(**breaker) if breaker else None
    )


def requests_after(service: CatalogService, before: int, expected: int) -> list[str]:
    """The lookups logged since `before`, once the access log shows `expected` of them (it is written a moment
    after the answer)."""
    deadline = time.monotonic() + LOG_WAIT_S
    while len(lines := service.requests(PRODUCTS_PATH)[before:]) < expected and time.monotonic() < deadline:
        time.sleep(0.02)
    return lines


def test_fifty_ids_are_one_request_and_each_product_comes_back_as_a_quote(service, service_product):
    made = [service_product(price=f"{n}.50", currency="EUR" if n % 2 else "GBP") for n in range(1, 51)]
    before = len(service.requests(PRODUCTS_PATH))

    quotes = client_for(service.url).price_quotes([p["id"] for p in made])

    assert len(requests_after(service, before, 1)) == 1
    assert quotes == {
        p["id"]: PriceQuote(p["id"], p["sku"], p["name"], Decimal(p["price"]), p["currency"], True) for p in made
    }


def test_more_than_a_hundred_ids_go_in_batches_of_a_hundred(service, service_product):
    real = service_product()
    asked = [real["id"], *range(10**9, 10**9 + 149)]
    before = len(service.requests(PRODUCTS_PATH))

    quotes = client_for(service.url).price_quotes(asked)

    assert len(requests_after(service, before, 2)) == 2
    assert list(quotes) == [real["id"]]


def test_the_service_principal_sees_inactive_products_and_missing_ids_are_absent(service, service_product):
    off = service_product(active=False)

    quotes = client_for(service.url).price_quotes([off["id"], 10**12])

    assert list(quotes) == [off["id"]] and quotes[off["id"]].active is False


def test_no_ids_ask_nothing(service):
    before = len(service.requests(PRODUCTS_PATH))

    assert client_for(service.url).price_quotes([]) == {}
    assert service.requests(PRODUCTS_PATH)[before:] == []


def test_an_identity_signed_with_another_key_is_refused_and_the_error_says_which_setting(service, service_product):
    product = service_product()
    wrong = client_for(service.url, key="not-the-key-of-this-deployment-0123456789")

    with pytest.raises(Unavailable, match="STRANGLER_IDENTITY_KEY"):
        wrong.price_quotes([product["id"]])
    assert wrong.breaker.state == "closed"  # the service answers; stopping to ask it would not help


def test_a_refused_connection_is_retried_then_unavailable():
    client = client_for(f"http://127.0.0.1:{free_port()}")

    with pytest.raises(Unavailable, match="connection was refused") as refused:
        client.price_quotes([1])
    assert refused.value.retry_after == 1 and "nothing was changed" in refused.value.message


def test_a_service_that_never_answers_costs_the_timeout_and_no_more():
    with socket.socket() as silent:  # accepts connections (the backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        client = client_for(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(Unavailable, match="did not answer in time"):
            client.price_quotes([1])
    assert time.monotonic() - started < 5  # bounded by the budget, retries included (not by a socket default)


@dataclass
class Double:
    """A loopback stand-in for the catalog service that answers each request with the next scripted status (the
    last one repeats): 200 answers an empty page."""

    statuses: list[int]
    seen: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def double() -> Iterator[Double]:
    script = Double([200])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            script.seen.append(self.path)
            status = script.statuses.pop(0) if len(script.statuses) > 1 else script.statuses[0]
            body = json.dumps({"count": 0, "next": None, "previous": None, "results": []}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

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


def test_a_read_answered_502_503_or_504_is_asked_again(double):
    double.statuses = [503, 502, 200]

    assert client_for(double.url).price_quotes([7]) == {}
    assert len(double.seen) == 3 and all("ids=7" in path for path in double.seen)


def test_a_500_is_final_and_three_gateway_errors_in_a_row_are_too(double):
    double.statuses = [500]
    with pytest.raises(Unavailable, match="answered 500"):
        client_for(double.url).price_quotes([7])
    assert len(double.seen) == 1

    double.statuses, double.seen[:] = [504], []
    with pytest.raises(Unavailable, match="answered 504"):
        client_for(double.url).price_quotes([7])
    assert len(double.seen) == 3


def test_the_breaker_opens_after_five_failed_lookups_and_a_probe_closes_it(double):
    double.statuses = [500]
    client = client_for(double.url, threshold=5, cooldown_s=0.3)
    for _ in range(5):
        with pytest.raises(Unavailable, match="answered 500"):
            client.price_quotes([7])

    with pytest.raises(Unavailable, match="failed repeatedly") as refused:
        client.price_quotes([7])
    assert len(double.seen) == 5  # refused without asking
    assert refused.value.retry_after == 1

    double.statuses = [200]
    deadline = time.monotonic() + 5
    while client.breaker.state != "half-open":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert client.price_quotes([7]) == {}
    assert client.breaker.state == "closed" and len(double.seen) == 6
