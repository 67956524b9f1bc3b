"""The settings every kit service shares, as one module to star-import (cookiecutter-django's `base.py`, one level
up): a service's `config/settings/base.py` imports it and adds only what is its own — its folder, its app, the
audience it accepts identities for and its schema's title.

    from strangler_kit.base_settings import *  # noqa: F403
    from strangler_kit.base_settings import env

    BASE_DIR = Path(__file__).resolve().parents[2]
    INSTALLED_APPS = [*kit.INSTALLED_APPS, "reviews"]
    STRANGLER_IDENTITY_AUDIENCE = kit.identity_audience(env, default="reviews")
    SPECTACULAR_SETTINGS = kit.spectacular(title=..., description=...)

Read from the environment when first imported (DEBUG, ALLOWED_HOSTS, STATIC_ROOT, LOG_LEVEL,
STRANGLER_IDENTITY_ACCEPT_V1); the environment modules (development, production) decide the rest.
"""

import environ

from strangler_kit import settings as kit

env = environ.Env()

# The v1 -> v2 transition (docs/identity.md): on only while a proxy or monolith that signs v1 is still running.
STRANGLER_IDENTITY_ACCEPT_V1 = kit.identity_accept_v1(env)

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[])

MIDDLEWARE = kit.MIDDLEWARE
TEMPLATES = kit.TEMPLATES

# Every kit service is a Django project named `config`, as cookiecutter-django lays one out.
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Set where `collectstatic` has run (production); without it whitenoise serves from the apps' static folders.
STATIC_ROOT: str | None = env.str("STATIC_ROOT", default=None)
WHITENOISE_USE_FINDERS = STATIC_ROOT is None
STORAGES = kit.STORAGES

REST_FRAMEWORK = kit.rest_framework()
LOGGING = kit.logging(env.str("LOG_LEVEL", default="INFO"))
