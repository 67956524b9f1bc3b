"""Tests: development settings plus what makes the suite fast. DATABASE_URL picks the engine."""

from .development import *  # noqa: F403

DEBUG = False
