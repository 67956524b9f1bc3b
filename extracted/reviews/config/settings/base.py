"""Settings shared by every environment: the kit's (strangler_kit.base_settings) plus what is the reviews service's
own. Each environment module decides SECRET_KEY, the database, the identity key and where the catalog answers."""

from pathlib import Path

from strangler_kit import settings as kit
from strangler_kit.base_settings import *  # noqa: F403
from strangler_kit.base_settings import env

BASE_DIR = Path(__file__).resolve().parents[2]

INSTALLED_APPS = [*kit.INSTALLED_APPS, "reviews"]

# The audience this service accepts identities for: its upstream's name in the proxy's route table.
STRANGLER_IDENTITY_AUDIENCE = kit.identity_audience(env, default="reviews")

SPECTACULAR_SETTINGS = kit.spectacular(
    title="Strangler reviews service API",
    description="Product reviews, extracted from the Strangler monolith.",
)

# Products belong to the catalog: a review's product is checked with the catalog's public API
# (`GET {CATALOG_URL}/api/catalog/products/?ids=…`), at the proxy so that whoever owns the catalog answers.
CATALOG_TIMEOUT_S = env.float("CATALOG_TIMEOUT_SECONDS", default=2.0)
