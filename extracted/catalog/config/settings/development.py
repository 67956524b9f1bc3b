"""Local development: everything has a safe default, so `make up` needs no configuration."""

from strangler_kit.settings import identity_key, serving_ready

from .base import *  # noqa: F403
from .base import BASE_DIR, env

SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-strangler-catalog-development-only")
DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

DATABASES = {"default": serving_ready(env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"))}
# Each of the server's threads keeps its database connection across requests, as production does: without it every
# request opens one (on PostgreSQL a new backend process each time, which bench/data/cutover_hold.py measured).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# For running the service on its own; `make up` generates a random key into its state directory (.run/) and hands it
# to the proxy and to the service. The proxy has no default.
STRANGLER_IDENTITY_KEY = identity_key(env, default="strangler-development-identity-key-not-secret")

# No browsable API: the service speaks JSON only in every environment, as the monolith does on the catalog's paths.
