"""The monolith's reviews seam (docs/seam.md §9), with real processes: once `strangler data cutover` made the reviews
service the owner, the monolith's own reviews API (asked directly, as a client that bypasses the proxy or a safe
request falling back to the monolith would ask it) relays to the service: a customer's review lands in the
service's database under the customer id the identity carries, at once (no sync runs here). Through the proxy the
identity the proxy signs carries it too. A rollback gives the monolith its table back with every review the service
took; after `strangler data retire`, with the monolith's `reviews_review` archived, its reviews API still reads and
writes. On SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing

import httpx
import psycopg
import pytest

import data_cli
from parity import PUBLIC_HOST
from proxy_stack import Proxy, proxy_in_front
from reviews_stack import SPEC
from seed import PRODUCTS

REVIEWS = "/api/reviews/"
SUMMARY = f"{REVIEWS}summary/"
FOR_SALE = [sku for sku, _name, _price, _currency, active, _category, _description in PRODUCTS if active]


@pytest.fixture(scope="module")
def proxy(reviews) -> Iterator[Proxy]:
    folder = reviews.logs / "seam-proxy"
    folder.mkdir(exist_ok=True)
    with proxy_in_front(
        reviews.monolith.url, reviews.service.url, folder, service="reviews", path="/api/reviews"
    ) as running:
        declared = running.set_stage("shadow", data="reviews")
        assert declared.status_code == 200, declared.text
        yield running


def data(command: str, reviews, proxy: Proxy, *extra: str) -> subprocess.CompletedProcess[str]:
    return data_cli.data_command(command, reviews, proxy.admin_url, *extra, spec=SPEC, target=reviews.service_database)


def own(owner: str, reviews, proxy: Proxy) -> None:
    """Hand reviews to `owner` (cutover or rollback; a no-op when it owns them already)."""
    done = data("cutover" if owner == "service" else "rollback", reviews, proxy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["owner"] == owner, done.stdout


def client(base_url: str, token: str | None) -> httpx.Client:
    headers = {"Host": PUBLIC_HOST, **({"Authorization": f"Token {token}"} if token else {})}
    return httpx.Client(base_url=base_url, headers=headers, timeout=30)


def rows(url: str, statement: str, params: tuple = ()) -> list[tuple]:
    if url.startswith("sqlite:///"):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"), timeout=10)) as conn:
            return list(conn.execute(statement.replace("%s", "?"), params))
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(statement, params).fetchall()


def stored(url: str, review_id: int) -> list[tuple]:
    return rows(url, "SELECT customer_id, product_id, rating FROM reviews_review WHERE id = %s", (review_id,))


def unreviewed_product(reviews, persona: str, *databases: str) -> int:
    """A product for sale that `persona` has not reviewed yet, as `databases` (default: both) say."""
    customer = reviews.shop.personas[persona].customer
    taken = set()
    for url in databases or (reviews.monolith_database, reviews.service_database):
        with_table = rows(url, "SELECT product_id FROM reviews_review WHERE customer_id = %s", (customer,))
        taken |= {int(product) for (product,) in with_table}
    return next(reviews.shop.products[sku] for sku in FOR_SALE if reviews.shop.products[sku] not in taken)


def test_after_cutover_the_monolith_s_own_reviews_api_writes_to_the_service(reviews, proxy):
    alice = reviews.shop.personas["alice"]
    own("service", reviews, proxy)
    product = unreviewed_product(reviews, "alice")

    with client(reviews.monolith.url, alice.token) as monolith:
        made = monolith.post(REVIEWS, json={"product": product, "rating": 4, "title": "Through the seam"})
        assert made.status_code == 201, made.text
        review = made.json()
        summary = monolith.get(SUMMARY, params={"product": product})
        first_page = monolith.get(REVIEWS, params={"page_size": 1}).json()

    assert review["customer"] == alice.customer != alice.id  # the customer claim the monolith signed, not sub
    assert first_page["next"].startswith(f"http://{PUBLIC_HOST}{REVIEWS}?")  # the client's host, not the service's
    assert stored(reviews.service_database, review["id"]) == [(alice.customer, product, 4)]
    assert stored(reviews.monolith_database, review["id"]) == []  # no sync runs: the service took it
    with client(proxy.server.url, None) as anon:
        through_the_proxy = anon.get(f"{REVIEWS}{review['id']}/")
        assert through_the_proxy.status_code == 200 and through_the_proxy.json()["title"] == "Through the seam"
        assert anon.get(SUMMARY, params={"product": product}).json() == summary.json()


def test_through_the_proxy_the_service_stores_the_customer_the_identity_names(reviews, proxy):
    bob = reviews.shop.personas["bob"]
    own("service", reviews, proxy)
    product = unreviewed_product(reviews, "bob")

    with client(proxy.server.url, bob.token) as through_the_proxy:
        made = through_the_proxy.post(REVIEWS, json={"product": product, "rating": 2})

    assert made.status_code == 201, made.text
    assert stored(reviews.service_database, made.json()["id"]) == [(bob.customer, product, 2)]
    assert bob.customer != bob.id


def test_a_rollback_gives_the_monolith_its_table_back_with_every_review_the_service_took(reviews, proxy):
    alice = reviews.shop.personas["alice"]
    own("service", reviews, proxy)
    product = unreviewed_product(reviews, "alice")
    with client(reviews.monolith.url, alice.token) as monolith:
        made = monolith.post(REVIEWS, json={"product": product, "rating": 5})
        assert made.status_code == 201, made.text

        own("monolith", reviews, proxy)

        assert stored(reviews.monolith_database, made.json()["id"]) == [(alice.customer, product, 5)]
        again = monolith.get(f"{REVIEWS}{made.json()['id']}/")
        assert again.status_code == 200 and again.json()["rating"] == 5
        changed = monolith.patch(f"{REVIEWS}{made.json()['id']}/", json={"rating": 3})
        assert changed.status_code == 200, changed.text
    assert stored(reviews.monolith_database, made.json()["id"]) == [(alice.customer, product, 3)]  # its own write


def test_after_retire_the_monolith_s_reviews_api_still_reads_and_writes(reviews, proxy):
    alice = reviews.shop.personas["alice"]
    own("service", reviews, proxy)
    retired = data("retire", reviews, proxy, "--yes")
    assert retired.returncode == 0, retired.stdout + retired.stderr
    assert not rows(
        reviews.monolith_database,
        "SELECT 1 FROM information_schema.tables WHERE table_name = %s"
        if reviews.monolith_database.startswith("postgresql")
        else "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s",
        ("reviews_review",),
    )
    product = unreviewed_product(reviews, "alice", reviews.service_database)

    with client(reviews.monolith.url, alice.token) as monolith:
        made = monolith.post(REVIEWS, json={"product": product, "rating": 4})
        listed = monolith.get(REVIEWS, params={"product": product})
        summary = monolith.get(SUMMARY, params={"product": product})

    assert made.status_code == 201, made.text
    assert [r["id"] for r in listed.json()["results"]] == [made.json()["id"]]
    assert summary.json()["count"] == 1
    assert stored(reviews.service_database, made.json()["id"]) == [(alice.customer, product, 4)]
