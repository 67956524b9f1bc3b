"""Settings shared by every environment. Each environment module decides SECRET_KEY, DEBUG and the database."""

from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parents[2]

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "common",
    "catalog",
    "inventory",
    "customers",
    "orders",
    "reviews",
    "seeding",
    "identity",
    "ownership",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that its refusals get every header the API's answers get.
    "identity.middleware.CredentialsFirst",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Set where `collectstatic` has run (production); without it whitenoise serves from the apps' static folders.
STATIC_ROOT: str | None = env.str("STATIC_ROOT", default=None)
WHITENOISE_USE_FINDERS = STATIC_ROOT is None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

REST_FRAMEWORK = {
    # Token first: an anonymous request to a protected endpoint then gets 401 with WWW-Authenticate: Token,
    # where SessionAuthentication alone would answer 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "identity.authentication.OncePerRequestTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "common.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "common.filters.StableOrderingFilter",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "common.exception_handler.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Strangler monolith shop API",
    "DESCRIPTION": "The reference Django + DRF shop that Strangler strangles into services.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Path ids go through common.integers' `id` converter: 64-bit integers, as the id columns are.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "format": "int64"}},
}

# The catalog service, asked by the monolith's other apps once the engine records that it owns the catalog
# (docs/seam.md). Each environment sets CATALOG_SERVICE_URL and STRANGLER_IDENTITY_KEY.
CATALOG_SERVICE_TIMEOUT_S: float = env.float("CATALOG_SERVICE_TIMEOUT", default=2.0)
# The inventory service, which places orders' stock holds once the engine records that it owns inventory (the
# order saga, docs/seam.md): each call is one attempt of INVENTORY_SERVICE_TIMEOUT seconds, tried up to 3 times with
# the same key. A hold left undecided this long (INVENTORY_SAGA_GRACE) is given up by the recovery sweep.
INVENTORY_SERVICE_TIMEOUT_S: float = env.float("INVENTORY_SERVICE_TIMEOUT", default=2.0)
INVENTORY_SAGA_GRACE_S: float = env.float("INVENTORY_SAGA_GRACE", default=30.0)
# The reviews service, to which the monolith's reviews API relays once the engine records that it owns reviews.
REVIEWS_SERVICE_TIMEOUT_S: float = env.float("REVIEWS_SERVICE_TIMEOUT", default=2.0)
IDENTITY_KEY_VARIABLE = "STRANGLER_IDENTITY_KEY"
IDENTITY_KEY_MIN_LENGTH = 32


def service_identity_key(default: str | environ.NoValue = environ.Env.NOTSET) -> str:
    """The proxy's identity key, with which the monolith signs its own calls to services (docs/identity.md)."""
    key = env.str(IDENTITY_KEY_VARIABLE, default=default)
    if len(key) < IDENTITY_KEY_MIN_LENGTH:
        raise ImproperlyConfigured(
            f"Set the {IDENTITY_KEY_VARIABLE} environment variable to the proxy's identity key "
            f"(at least {IDENTITY_KEY_MIN_LENGTH} characters; it is {len(key)}): the monolith signs its calls to "
            "the services it calls (catalog, inventory, reviews) with it."
        )
    return key


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}


def serving_ready(database: dict[str, Any]) -> dict[str, Any]:
    """A database from DATABASE_URL, set up for a server that answers requests on several threads.

    An SQLite file gets WAL (readers do not block the writer) and IMMEDIATE transactions with a busy timeout, so a
    second writer waits for the lock instead of failing with "database is locked" halfway through a transaction.
    """
    if database["ENGINE"] == "django.db.backends.sqlite3" and str(database["NAME"]) not in ("", ":memory:"):
        options = database.setdefault("OPTIONS", {})
        options.setdefault("transaction_mode", "IMMEDIATE")
        options.setdefault("timeout", 20)
        options.setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
    return database
