"""The reviews stack for the parity suite, on either engine: the monolith and the reviews service as real
processes, each on its own database. The monolith's shop (personas, catalog, reviews) is made by the monolith's own
services; the service's rows are the monolith's, copied by the migration engine's CLI (`strangler data backfill`,
then `verify`) with the spec `migration-playbook/specs/reviews.toml`. The service asks the monolith's catalog API
whether a product is for sale, as it asks the proxy in production.

The personas get their customer records in another order than their user ids (bob's first), so that no customer id
equals its user id, as in a real shop: the service must take the customer from the identity's `customer` claim,
never from `sub` (docs/identity.md)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from data_move import align_sequences
from databases import database
from processes import ROOT, VENV_BIN, Server, django, free_port, run, run_together
from seed import MONOLITH, Shop, seed

SERVICE = ROOT / "extracted" / "reviews"
SPEC = ROOT / "migration-playbook" / "specs" / "reviews.toml"
TABLES = ("reviews_review",)

# (persona, sku, rating, title, body)
REVIEWS = [
    ("alice", "TENT-0001", 5, "Dry all night", "Two storms, no leak."),
    ("bob", "TENT-0001", 3, "Heavy", ""),
    ("charlie", "TENT-0001", 4, "", "Staff pick"),
    ("alice", "STOVE-001", 4, "Boils fast", "Loud, though."),
    ("bob", "SHOE-0001", 2, "Runs small", "Order a size up"),
    *[("alice", f"SOCK-{n:04d}", 1 + n % 5, f"Socks {n}", "Cotton socks") for n in range(1, 9) if n % 5],
]

REVIEWS_SCRIPT = """
import json
from django.contrib.auth import get_user_model
from catalog.models import Product
from customers import services as customers
from reviews import services as reviews
users = get_user_model().objects
customer = {{}}
ordered = list(users.order_by("id"))
for user in ordered[1:] + ordered[:1]:
    customer[user.username] = customers.customer_id_for_user(user=user)
products = dict(Product.objects.values_list("sku", "id"))
made = []
for who, sku, rating, title, body in {reviews!r}:
    made.append(reviews.review_create(
        customer_id=customer[who], product_id=products[sku], rating=rating, title=title, body=body
    ).id)
print(json.dumps({{"customers": customer, "reviews": made}}))
"""


@dataclass(frozen=True)
class ReviewsStack:
    engine: str
    monolith: Server
    service: Server
    shop: Shop
    reviews: list[int]
    monolith_database: str
    service_database: str
    logs: Path


def copy_reviews(source_url: str, target_url: str) -> None:
    """backfill then verify with the engine's CLI, as an operator would; then the id sequence, as cutover does."""
    for command in ("backfill", "verify"):
        args = [str(VENV_BIN / "strangler"), "data", command, str(SPEC), "--source", source_url]
        printed = run([*args, "--target", target_url, "--json"], cwd=ROOT, env={})
        if command == "verify":
            verified = json.loads(printed)
            assert all(table["clean"] for table in verified["tables"]), verified
    align_sequences(source_url, target_url, TABLES)


@contextlib.contextmanager
def reviews_stack(engine: str, folder: Path, django_env: dict[str, str]) -> Iterator[ReviewsStack]:
    with contextlib.ExitStack() as stack:
        monolith_db = stack.enter_context(database(engine, "rev_monolith", folder))
        service_db = stack.enter_context(database(engine, "reviews", folder))
        monolith_port, service_port = free_port(), free_port()
        monolith_env = {
            **django_env,
            "DATABASE_URL": monolith_db,
            "STATIC_ROOT": str(folder / "monolith-static"),
            # The seam: once the service owns reviews, the monolith's own reviews API relays to it.
            "REVIEWS_SERVICE_URL": f"http://127.0.0.1:{service_port}",
        }
        service_env = {
            **django_env,
            "DATABASE_URL": service_db,
            "STATIC_ROOT": str(folder / "reviews-static"),
            "CATALOG_URL": f"http://127.0.0.1:{monolith_port}",
        }
        migrate = [sys.executable, "manage.py", "migrate", "--noinput"]
        run_together([(migrate, MONOLITH, monolith_env), (migrate, SERVICE, service_env)])
        shop = seed(monolith_env)
        script = REVIEWS_SCRIPT.format(reviews=REVIEWS)
        printed = run(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", script], cwd=MONOLITH, env=monolith_env
        )
        made = json.loads(printed.strip().splitlines()[-1])
        assert all(made["customers"][name] != p.id for name, p in shop.personas.items()), made["customers"]
        personas = {name: replace(p, customer=made["customers"][name]) for name, p in shop.personas.items()}
        shop = replace(shop, personas=personas)
        copy_reviews(monolith_db, service_db)
        monolith = stack.enter_context(django("rev-monolith", MONOLITH, monolith_env, folder, port=monolith_port))
        service = stack.enter_context(django("reviews", SERVICE, service_env, folder, port=service_port))
        monolith.wait_until_ready()
        service.wait_until_ready()
        yield ReviewsStack(engine, monolith, service, shop, made["reviews"], monolith_db, service_db, folder)
