"""A small deterministic shop: the personas (with monolith tokens and sessions) and a catalog made by the
monolith's own catalog services."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

from processes import ROOT, run

MONOLITH = ROOT / "monolith"

PERSONAS_SCRIPT = """
import json
from django.contrib.auth import get_user_model
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from rest_framework.authtoken.models import Token
User = get_user_model()
made = {}
for name, staff in (("alice", False), ("bob", False), ("charlie", True)):
    # No password (no hashing, which is slow on purpose): the personas use tokens and sessions.
    user = User.objects.create_user(name, f"{name}@example.com", None, is_staff=staff)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    token = Token.objects.create(user=user).key
    made[name] = {"id": user.id, "token": token, "session": session.session_key, "is_staff": staff}
"""

CATALOG_SCRIPT = """
from decimal import Decimal
from django.db import transaction
from catalog import services
categories, products = {{}}, {{}}
atomic = transaction.atomic()
atomic.__enter__()
for slug, name, parent in {categories!r}:
    parent = services.Category.objects.get(id=categories[parent]) if parent else None
    categories[slug] = services.category_create(name=name, slug=slug, parent=parent).id
for sku, name, price, currency, active, category, description in {products!r}:
    products[sku] = services.product_create(
        sku=sku, name=name, slug=sku.lower(), price=Decimal(price), currency=currency, active=active,
        category=services.Category.objects.get(id=categories[category]), description=description,
    ).id
atomic.__exit__(None, None, None)
print(json.dumps({{"personas": made, "categories": categories, "products": products}}))
"""

CATEGORIES = [  # (slug, name, parent slug)
    ("clothing", "Clothing", None),
    ("shoes", "Shoes", "clothing"),
    ("trail", "Trail", "shoes"),
    ("garden", "Garden", None),
    ("kitchen", "Kitchen", None),
    ("camping", "Camping", None),
]

PRODUCTS = [  # (sku, name, price, currency, active, category slug, description)
    ("TENT-0001", "Alpine tent", "349.00", "EUR", True, "camping", "Two walls, four seasons"),
    ("STOVE-001", "Camp stove", "59.90", "EUR", True, "camping", "Fits under a tent porch"),
    ("MAT-0001", "Sleeping mat", "45.00", "EUR", False, "camping", ""),
    ("SHOE-0001", "Trail shoe", "129.95", "EUR", True, "trail", "Light and grippy"),
    ("SHOE-0002", "Road shoe", "99.00", "USD", True, "shoes", ""),
    ("SHOE-0003", "Winter boot", "10.00", "EUR", True, "shoes", "Warm"),
    ("SHIRT-001", "Linen shirt", "20.00", "EUR", True, "clothing", ""),
    ("SHIRT-002", "Wool shirt", "20.01", "GBP", True, "clothing", "Merino"),
    ("HAT-00001", "Sun hat", "15.50", "USD", False, "clothing", ""),
    ("RAKE-0001", "Leaf rake", "24.00", "EUR", True, "garden", "Not for tents"),
    ("HOSE-0001", "Garden hose", "5.00", "EUR", True, "garden", ""),
    ("MUG-00001", "Enamel mug", "12.50", "EUR", True, "kitchen", "Holds 350 ml"),
    ("PAN-00001", "Cast iron pan", "0.00", "EUR", True, "kitchen", "Free sample"),
]
PRODUCTS += [
    (f"SOCK-{n:04d}", f"Sock pair {n}", f"{3 + n % 7}.{n % 10}0", "EUR", n % 5 != 0, "clothing", "Cotton")
    for n in range(1, 19)
]


@dataclass(frozen=True)
class Persona:
    name: str
    id: int
    token: str
    session: str  # a logged-in browser's sessionid cookie
    is_staff: bool
    customer: int | None = None  # the customer id the monolith's forward auth names (once a stack made it)


@dataclass(frozen=True)
class Shop:
    personas: dict[str, Persona]
    categories: dict[str, int]  # slug -> id
    products: dict[str, int]  # sku -> id


def seed(env: dict[str, str]) -> Shop:
    """Run in one `manage.py shell`: creating through the catalog's own services, as its API views do, costs one
    process start instead of a request per row."""
    script = PERSONAS_SCRIPT + CATALOG_SCRIPT.format(categories=CATEGORIES, products=PRODUCTS)
    printed = run([sys.executable, "manage.py", "shell", "--no-imports", "-c", script], cwd=MONOLITH, env=env)
    made = json.loads(printed.strip().splitlines()[-1])
    personas = {name: Persona(name=name, **fields) for name, fields in made["personas"].items()}
    return Shop(personas=personas, categories=made["categories"], products=made["products"])
