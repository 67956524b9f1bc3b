"""The reviews extraction walked through the real proxy as an operator walks it (`strangler routes` and
`strangler data` with migration-playbook/specs/reviews.toml): shadow → verify + publish → canary 50% → cutover →
rollback → cutover, while customers write reviews through the proxy the whole time (new ones, and changes to their
own). No write fails, and every write a customer saw acknowledged is where it must be at each flip; at the end the
two databases agree. On SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

import data_cli
from customer_load import CustomerLoad
from proxy_stack import Proxy, proxy_in_front
from reviews_stack import SPEC
from seed import PRODUCTS

REVIEWS = "/api/reviews/"
FOR_SALE = [sku for sku, _name, _price, _currency, active, _category, _description in PRODUCTS if active]


@pytest.fixture(scope="module")
def walked(reviews) -> Iterator[Proxy]:
    folder = reviews.logs / "walk-proxy"
    folder.mkdir(exist_ok=True)
    with proxy_in_front(
        reviews.monolith.url, reviews.service.url, folder, service="reviews", path="/api/reviews"
    ) as proxy:
        declared = proxy.set_stage("off", data="reviews")
        assert declared.status_code == 200, declared.text
        yield proxy


def data(command: str, reviews, proxy: Proxy, *extra: str) -> subprocess.CompletedProcess[str]:
    return data_cli.data_command(command, reviews, proxy.admin_url, *extra, spec=SPEC, target=reviews.service_database)


def stored_reviews(url: str) -> dict[int, tuple[int, int, int]]:
    """id → (customer, product, rating) as one database holds them."""
    statement = "SELECT id, customer_id, product_id, rating FROM reviews_review"
    if url.startswith("sqlite:///"):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"), timeout=10)) as conn:
            rows = list(conn.execute(statement))
    else:
        with psycopg.connect(url, autocommit=True) as conn:
            rows = conn.execute(statement).fetchall()
    return {int(i): (int(c), int(p), int(r)) for i, c, p, r in rows}


@dataclass
class Customers(CustomerLoad):
    """alice and bob writing reviews through the proxy without pause, one connection each: a new review of a product
    they have not reviewed yet, or a new rating on one of their own (so each review's last acknowledged rating is
    well defined)."""

    tokens: dict[str, tuple[int, str]]  # persona -> (customer id, token)
    products: list[int]
    acknowledged: dict[int, tuple[int, int, int]] = field(default_factory=dict)

    def personas(self) -> list[str]:
        return list(self.tokens)

    def run(self, persona: str) -> None:
        customer, token = self.tokens[persona]
        with self.client(token) as client:
            mine = {
                r["id"]: r["product"]
                for r in client.get(REVIEWS, params={"customer": customer, "page_size": 100}).json()["results"]
            }
            untouched = [p for p in self.products if p not in mine.values()]
            for n in self.numbered():
                rating = 1 + n % 5
                if untouched and n % 2:
                    product = untouched.pop()
                    answer = client.post(REVIEWS, json={"product": product, "rating": rating, "title": f"walk {n}"})
                    expected = 201
                else:
                    review_id = list(mine)[n % len(mine)]
                    product = mine[review_id]
                    answer = client.patch(f"{REVIEWS}{review_id}/", json={"rating": rating})
                    expected = 200
                written = self.answered(persona, answer, expected)
                if written is None:
                    continue
                mine[written["id"]] = product
                self.acknowledged[written["id"]] = (customer, product, rating)


def customers(reviews, proxy: Proxy) -> Customers:
    personas = reviews.shop.personas
    # The customer id a review stores (not the user id): the proxy signs it into the identity from forward auth.
    tokens = {name: (personas[name].customer, personas[name].token) for name in ("alice", "bob")}
    return Customers(proxy.server.url, tokens, [reviews.shop.products[sku] for sku in FOR_SALE])


def assert_kept(acknowledged: dict[int, tuple[int, int, int]], url: str) -> None:
    stored = stored_reviews(url)
    assert {i: stored.get(i) for i in acknowledged} == acknowledged


def test_shadow_then_canary_once_the_data_is_verified_and_published(reviews, walked):
    with customers(reviews, walked) as writers:
        assert walked.set_stage("shadow").status_code == 200
        refused = walked.set_stage("canary", percent=50)
        assert refused.status_code == 409 and refused.json()["error"] == "data_not_ready", refused.text
    # As the runbook does, between bursts of writes: catch the sync up, verify, publish.
    for step in ("sync", "verify", "publish"):
        done = data(step, reviews, walked)
        assert done.returncode == 0, done.stdout + done.stderr
    with writers:
        assert walked.set_stage("canary", percent=50).status_code == 200
    assert writers.failures == []
    assert walked.stage() == "canary"
    assert_kept(writers.acknowledged, reviews.monolith_database)  # the monolith still owns every write


def test_a_cutover_under_customers_writing_fails_no_request_and_loses_nothing(reviews, walked):
    with customers(reviews, walked) as writers:
        result = data("cutover", reviews, walked)
        writers.wait_for_more(4)  # writes after the release, to the service
    assert result.returncode == 0, result.stdout + result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    assert writers.failures == []
    assert report["owner"] == "service" and report["stages"] == {"/api/reviews": "live"}
    assert_kept(writers.acknowledged, reviews.service_database)


def test_a_rollback_under_customers_writing_gives_the_monolith_every_write_the_service_took(reviews, walked):
    with customers(reviews, walked) as writers:
        writers.wait_for_more(4)  # writes only the service has, until the rollback drains them back
        result = data("rollback", reviews, walked)
    assert result.returncode == 0, result.stdout + result.stderr
    assert writers.failures == []
    assert json.loads(result.stdout)["owner"] == "monolith"
    assert walked.stage() == "canary"
    assert_kept(writers.acknowledged, reviews.monolith_database)


def test_a_second_cutover_under_customers_writing_loses_nothing_and_both_sides_agree(reviews, walked):
    with customers(reviews, walked) as writers:
        result = data("cutover", reviews, walked)
        writers.wait_for_more(4)  # writes after the release, to the service
    assert result.returncode == 0, result.stdout + result.stderr
    assert writers.failures == []
    assert walked.stage() == "live"
    assert_kept(writers.acknowledged, reviews.service_database)
    # The reverse sync brings the monolith's copy level with the service: what a rollback would start from.
    for step in ("sync", "verify"):
        done = data(step, reviews, walked, "--reverse")
        assert done.returncode == 0, done.stdout + done.stderr
    assert stored_reviews(reviews.monolith_database) == stored_reviews(reviews.service_database)
