"""Local development: everything has a safe default, so `make up` needs no configuration."""

from .base import *  # noqa: F403
from .base import BASE_DIR, REST_FRAMEWORK, env, identity_key, serving_ready

SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-strangler-catalog-development-only")
DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

DATABASES = {"default": serving_ready(env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"))}

# The development key of docs/identity.md; the proxy has no default, `make up` hands it the same value.
STRANGLER_IDENTITY_KEY = identity_key(default="strangler-development-identity-key-not-secret")

REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
