"""Local development: everything has a safe default, so `make up` needs no configuration."""

from .base import *  # noqa: F403
from .base import BASE_DIR, REST_FRAMEWORK, env, service_identity_key, serving_ready

SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-strangler-development-only")
DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

DATABASES = {"default": serving_ready(env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"))}
# Each of the server's threads keeps its database connection across requests, as production does: without it every
# request opens one (on PostgreSQL a new backend process each time, which bench/data/cutover_hold.py measured).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# `make up` runs the catalog service on :8001; its development settings fall back to this key when run alone.
CATALOG_SERVICE_URL = env.str("CATALOG_SERVICE_URL", default="http://127.0.0.1:8001")
INVENTORY_SERVICE_URL = env.str("INVENTORY_SERVICE_URL", default="http://127.0.0.1:8002")
REVIEWS_SERVICE_URL = env.str("REVIEWS_SERVICE_URL", default="http://127.0.0.1:8003")
STRANGLER_IDENTITY_KEY = service_identity_key(default="strangler-development-identity-key-not-secret")

REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
