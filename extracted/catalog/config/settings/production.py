"""Production: nothing secret or environment-specific has a default; a missing variable stops the start."""

from strangler_kit.settings import identity_key, serving_ready

from .base import *  # noqa: F403
from .base import BASE_DIR, STORAGES, env

SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
DATABASES = {"default": serving_ready(env.db("DATABASE_URL"))}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# A kept connection is checked before a request reuses it: after a database restart or failover a dead one is
# replaced instead of failing the request that drew it.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
STRANGLER_IDENTITY_KEY = identity_key(env)

STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
WHITENOISE_USE_FINDERS = False
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# No sessions here, so no CSRF middleware: the CSRF check of a session-authenticated write happens once, at the
# monolith, when the proxy resolves the identity (docs/identity.md).
SILENCED_SYSTEM_CHECKS = ["security.W003"]
