"""Settings shared by every environment: the kit's (strangler_kit.base_settings) plus what is the catalog's own.
Each environment module decides SECRET_KEY, the database and the identity key."""

from pathlib import Path

from strangler_kit import settings as kit
from strangler_kit.base_settings import *  # noqa: F403
from strangler_kit.base_settings import env

BASE_DIR = Path(__file__).resolve().parents[2]

INSTALLED_APPS = [*kit.INSTALLED_APPS, "catalog"]

# The audience this service accepts identities for: its upstream's name in the proxy's route table.
STRANGLER_IDENTITY_AUDIENCE = kit.identity_audience(env, default="catalog")

SPECTACULAR_SETTINGS = kit.spectacular(
    title="Strangler catalog service API",
    description="Categories and products, extracted from the Strangler monolith.",
)
