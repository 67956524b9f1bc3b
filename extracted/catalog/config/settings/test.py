"""Tests: development settings plus what makes the suite fast. DATABASE_URL picks the engine."""

from .development import *  # noqa: F403
from .development import REST_FRAMEWORK

DEBUG = False
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]}
