"""Tests: development settings plus what makes the suite fast. DATABASE_URL picks the engine."""

from .development import *  # noqa: F403
from .development import DATABASES, REST_FRAMEWORK

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]}
# The suite as it was: a connection per request (the development servers keep theirs, CONN_MAX_AGE).
DATABASES["default"]["CONN_MAX_AGE"] = 0
