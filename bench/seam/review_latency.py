"""The monolith's reviews API through its seam: local (the monolith owns reviews) vs relayed (the reviews service
owns them), measured in the same run, and the ratio (docs/seam.md §9).

    .venv/bin/python bench/seam/review_latency.py [--requests 100] [--json]

The monolith runs in this process with its production settings on a scratch SQLite file, asked through Django's
test client (the whole view: credentials judged, then the table or the relay); the reviews service and the catalog
service it asks about products are real processes on loopback (granian, one worker, production settings, their own
SQLite files). Both catalogs hold the same products with the same ids. Each sample is, as a signed-in customer with
a token, a `POST /api/reviews/` of a product the customer has not reviewed (local: the monolith's catalog check and
insert; relayed: the user's identity signed, the service's catalog check over HTTP and insert) or a
`GET /api/reviews/` (the first page). Samples alternate local and relayed so that both see the same machine.

This is a measurement, not a test: the processes and the databases share the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from alternate import compare_owners

ROOT = Path(__file__).resolve().parents[2]
MONOLITH = ROOT / "monolith"
HOST = "127.0.0.1"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100, help="requests of each kind, each way (default 100)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-reviews-seam-") as scratch:
        figures = run(Path(scratch), requests=args.requests)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"the monolith's reviews API, {args.requests} requests of each kind each way, monolith on SQLite")
    for what in ("write", "read"):
        local, relayed = figures[what]["local"], figures[what]["relayed"]
        print(
            f"  {what:<6} local   p50 {local['p50_ms']:7.2f} ms  p90 {local['p90_ms']:7.2f} ms\n"
            f"  {'':<6} relayed p50 {relayed['p50_ms']:7.2f} ms  p90 {relayed['p90_ms']:7.2f} ms"
            f"   relayed/local {figures[what]['ratio_p50']:.2f}x (p50)"
        )
    return 0


def run(folder: Path, *, requests: int) -> dict[str, Any]:
    # The monolith's modules are imported inside the functions: they need it on sys.path, and Django set up.
    sys.path.insert(0, str(MONOLITH))
    from common.testing_services import IDENTITY_KEY, catalog_service, reviews_service

    with catalog_service(folder) as catalog, reviews_service(folder, catalog_url=catalog.url) as reviews:
        _django(folder, reviews.url, IDENTITY_KEY)
        products, token = _shop(catalog, 2 * requests + 2)
        write, read = _samplers(products, token)
        return {
            "write": compare_owners("reviews", write, requests, remote="relayed"),
            "read": compare_owners("reviews", read, requests, remote="relayed"),
        }


def _django(folder: Path, reviews_url: str, identity_key: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DATABASE_URL=f"sqlite:///{folder / 'monolith.sqlite3'}",
        SECRET_KEY="bench-not-secret",  # noqa: S106 - a scratch database for one run
        ALLOWED_HOSTS=HOST,
        STATIC_ROOT=str(folder / "static"),
        REVIEWS_SERVICE_URL=reviews_url,
        STRANGLER_IDENTITY_KEY=identity_key,
        LOG_LEVEL="ERROR",
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def _shop(catalog: Any, count: int) -> tuple[list[int], str]:
    """The same active products in both catalogs, with the same ids (both databases are new), and a customer."""
    from catalog import services as catalog_services
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    remote_category = catalog.create("/api/catalog/categories/", {"name": "Bench", "slug": "bench"})["id"]
    category = catalog_services.category_create(name="Bench", slug="bench")
    assert category.id == remote_category
    ids = []
    for n in range(count):
        fields = {"sku": f"BENCH-{n:04d}", "name": f"Bench product {n}", "slug": f"bench-{n}", "price": "9.50"}
        remote = catalog.create("/api/catalog/products/", {**fields, "category": remote_category})
        local = catalog_services.product_create(**{**fields, "price": Decimal(fields["price"])}, category=category)
        assert local.id == remote["id"]
        ids.append(local.id)
    user = get_user_model().objects.create_user("bench")
    return ids, Token.objects.create(user=user).key


def _samplers(products: list[int], token: str) -> tuple[Callable[[], None], Callable[[], None]]:
    from django.test import Client

    client = Client(HTTP_HOST=HOST, HTTP_AUTHORIZATION=f"Token {token}")
    unreviewed = iter(products)

    def write() -> None:
        answer = client.post(
            "/api/reviews/", {"product": next(unreviewed), "rating": 4}, content_type="application/json"
        )
        assert answer.status_code == 201, answer.content

    def read() -> None:
        answer = client.get("/api/reviews/")
        assert answer.status_code == 200, answer.content

    return write, read


if __name__ == "__main__":
    sys.exit(main())
