"""A service as small as one can be, built from the kit's settings: what the kit's tests run against."""

import environ

from strangler_kit import settings as kit

env = environ.Env()

SECRET_KEY = "kit-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = kit.INSTALLED_APPS
MIDDLEWARE = kit.MIDDLEWARE
ROOT_URLCONF = "tests.project.urls"
DATABASES = {"default": kit.serving_ready(env.db("DATABASE_URL", default="sqlite:///:memory:"))}
USE_TZ = True
STATIC_URL = "static/"
REST_FRAMEWORK = kit.rest_framework()
SPECTACULAR_SETTINGS = kit.spectacular(title="kit tests", description="A service made of the kit alone.")
STRANGLER_IDENTITY_KEY = kit.identity_key(env, default="kit-tests-identity-key-at-least-32-chars")
STRANGLER_IDENTITY_AUDIENCE = kit.identity_audience(env, default="numbers")
STRANGLER_IDENTITY_ACCEPT_V1 = kit.identity_accept_v1(env)
