"""Settings shared by every environment, built from the extraction kit's (strangler_kit.settings). Each environment
module decides SECRET_KEY, DEBUG, the database, the identity key and where the catalog answers."""

from pathlib import Path

import environ
from strangler_kit import settings as kit

BASE_DIR = Path(__file__).resolve().parents[2]

env = environ.Env()

# The audience this service accepts identities for: its upstream's name in the proxy's route table.
STRANGLER_IDENTITY_AUDIENCE = kit.identity_audience(env, default="reviews")
# The v1 -> v2 transition (docs/identity.md): on only while a proxy or monolith that signs v1 is still running.
STRANGLER_IDENTITY_ACCEPT_V1 = kit.identity_accept_v1(env)

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[])

INSTALLED_APPS = [*kit.INSTALLED_APPS, "reviews"]
MIDDLEWARE = kit.MIDDLEWARE
TEMPLATES = kit.TEMPLATES

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT: str | None = env.str("STATIC_ROOT", default=None)
WHITENOISE_USE_FINDERS = STATIC_ROOT is None
STORAGES = kit.STORAGES

REST_FRAMEWORK = kit.rest_framework()
SPECTACULAR_SETTINGS = kit.spectacular(
    title="Strangler reviews service API",
    description="Product reviews, extracted from the Strangler monolith.",
)
LOGGING = kit.logging(env.str("LOG_LEVEL", default="INFO"))

# Products belong to the catalog: a review's product is checked with the catalog's public API
# (`GET {CATALOG_URL}/api/catalog/products/?ids=…`), at the proxy so that whoever owns the catalog answers.
CATALOG_TIMEOUT_S = env.float("CATALOG_TIMEOUT_SECONDS", default=2.0)
