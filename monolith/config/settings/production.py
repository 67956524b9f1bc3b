"""Production: nothing secret or environment-specific has a default; a missing variable stops the start."""

from .base import *  # noqa: F403
from .base import BASE_DIR, STORAGES, env, service_identity_key, serving_ready

SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
DATABASES = {"default": serving_ready(env.db("DATABASE_URL"))}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# A kept connection is checked before a request reuses it: after a database restart or failover a dead one is
# replaced instead of failing the request that drew it.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# Each needed from its service's cutover on; until then the monolith never calls that service.
CATALOG_SERVICE_URL = env.str("CATALOG_SERVICE_URL", default="")
INVENTORY_SERVICE_URL = env.str("INVENTORY_SERVICE_URL", default="")
REVIEWS_SERVICE_URL = env.str("REVIEWS_SERVICE_URL", default="")
STRANGLER_IDENTITY_KEY = (
    service_identity_key() if CATALOG_SERVICE_URL or INVENTORY_SERVICE_URL or REVIEWS_SERVICE_URL else ""
)

STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
WHITENOISE_USE_FINDERS = False
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
