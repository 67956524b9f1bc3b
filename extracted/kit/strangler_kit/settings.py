"""Settings helpers for a service: what every extracted Django service configures the same way, read from the
environment and checked at start (a missing or bad value is `ImproperlyConfigured` naming the variable).

    from strangler_kit import settings as kit
    INSTALLED_APPS = [*kit.INSTALLED_APPS, "reviews"]
    MIDDLEWARE, TEMPLATES, STORAGES = kit.MIDDLEWARE, kit.TEMPLATES, kit.STORAGES
    REST_FRAMEWORK = kit.rest_framework()
    SPECTACULAR_SETTINGS = kit.spectacular(title=..., description=...)
    STRANGLER_IDENTITY_KEY = kit.identity_key(env)
    STRANGLER_IDENTITY_AUDIENCE = kit.identity_audience(env, default="reviews")
    STRANGLER_IDENTITY_ACCEPT_V1 = kit.identity_accept_v1(env)
    DATABASES = {"default": kit.serving_ready(env.db("DATABASE_URL"))}
"""

from __future__ import annotations

from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

IDENTITY_KEY_VARIABLE = "STRANGLER_IDENTITY_KEY"
IDENTITY_KEY_MIN_LENGTH = 32
PAGE_SIZE = 20

# No django.contrib.auth: the monolith stays the identity provider and the proxy passes a signed identity.
INSTALLED_APPS = [
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "strangler_kit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "strangler_kit.identity.middleware.VaryLikeTheMonolith",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that its refusals get every header the API's answers get (as in the monolith).
    "strangler_kit.identity.middleware.CredentialsFirst",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    },
]
# Without `collectstatic` (development) whitenoise serves from the apps' static folders; production sets
# STATIC_ROOT and a manifest storage.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


def identity_key(env: environ.Env, default: str | environ.NoValue = environ.Env.NOTSET) -> str:
    """The key shared with the proxy that signs X-Strangler-Identity (see docs/identity.md)."""
    key = env.str(IDENTITY_KEY_VARIABLE, default=default)
    if len(key) < IDENTITY_KEY_MIN_LENGTH:
        raise ImproperlyConfigured(
            f"Set the {IDENTITY_KEY_VARIABLE} environment variable to the proxy's identity key "
            f"(at least {IDENTITY_KEY_MIN_LENGTH} characters; it is {len(key)})."
        )
    return key


def identity_audience(env: environ.Env, *, default: str) -> str:
    """The audience this service accepts signed identities for: its upstream's name in the proxy's route table
    (STRANGLER_IDENTITY_AUDIENCE, default the service's own name). An identity minted for another is refused."""
    audience = env.str("STRANGLER_IDENTITY_AUDIENCE", default=default)
    if not audience or audience != audience.strip():
        raise ImproperlyConfigured(
            f"Set STRANGLER_IDENTITY_AUDIENCE to this service's upstream name in the proxy's route table "
            f"(it is {audience!r})."
        )
    return audience


def identity_accept_v1(env: environ.Env) -> bool:
    """Whether v1 identities (no audience) are still accepted: on only while a proxy or monolith that signs v1 still
    runs (STRANGLER_IDENTITY_ACCEPT_V1, default off; docs/identity.md)."""
    return env.bool("STRANGLER_IDENTITY_ACCEPT_V1", default=False)


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


def rest_framework(**overrides: Any) -> dict[str, Any]:
    """DRF as the monolith's API has it: the signed identity as the only way in, the one error body, strict
    pagination, filters with a stable order, JSON only."""
    return {
        # Its 401s name `Token`, as the monolith's do, so clients see the same WWW-Authenticate.
        "DEFAULT_AUTHENTICATION_CLASSES": ["strangler_kit.identity.authentication.SignedIdentityAuthentication"],
        "UNAUTHENTICATED_USER": "strangler_kit.identity.user.AnonymousIdentity",
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        "DEFAULT_PAGINATION_CLASS": "strangler_kit.pagination.PageNumberPagination",
        "PAGE_SIZE": PAGE_SIZE,
        "DEFAULT_FILTER_BACKENDS": [
            "django_filters.rest_framework.DjangoFilterBackend",
            "rest_framework.filters.SearchFilter",
            "strangler_kit.filters.StableOrderingFilter",
        ],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        "DEFAULT_PARSER_CLASSES": [
            "rest_framework.parsers.JSONParser",
            "rest_framework.parsers.FormParser",
            "rest_framework.parsers.MultiPartParser",
        ],
        "EXCEPTION_HANDLER": "strangler_kit.exception_handler.exception_handler",
        "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
        "TEST_REQUEST_DEFAULT_FORMAT": "json",
        **overrides,
    }


def spectacular(*, title: str, description: str) -> dict[str, Any]:
    return {
        "TITLE": title,
        "DESCRIPTION": description,
        "VERSION": "1.0.0",
        "SERVE_INCLUDE_SCHEMA": False,
        "COMPONENT_SPLIT_REQUEST": True,
        # Path ids go through strangler_kit.integers' `id` converter: 64-bit integers, as the id columns are.
        "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "format": "int64"}},
    }


def logging(level: str) -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"console": {"class": "logging.StreamHandler"}},
        "root": {"handlers": ["console"], "level": level},
    }
