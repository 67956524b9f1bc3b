"""The service's configuration, read once from the environment and validated at start: a missing or invalid
variable stops the process with a message that names it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from inventory_service.errors import ConfigurationError

MIN_IDENTITY_KEY_LENGTH = 32
DEFAULT_POOL_SIZE = 8
DEFAULT_CATALOG_TIMEOUT_SECONDS = 2.0
DEFAULT_IDENTITY_AUDIENCE = "inventory"


@dataclass(frozen=True)
class Settings:
    database_url: str
    identity_key: str
    catalog_url: str
    allowed_hosts: tuple[str, ...]
    pool_size: int = DEFAULT_POOL_SIZE
    catalog_timeout_seconds: float = DEFAULT_CATALOG_TIMEOUT_SECONDS
    identity_audience: str = DEFAULT_IDENTITY_AUDIENCE  # this service's upstream name: the identities it accepts
    accept_identity_v1: bool = False  # the v1 -> v2 transition only (docs/identity.md)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            database_url=database_url(env),
            identity_key=identity_key(env),
            catalog_url=_http_url(env, "CATALOG_URL"),
            allowed_hosts=_hosts(env),
            pool_size=_positive_int(env, "INVENTORY_DB_POOL_SIZE", DEFAULT_POOL_SIZE),
            catalog_timeout_seconds=_positive_float(env, "CATALOG_TIMEOUT_SECONDS", DEFAULT_CATALOG_TIMEOUT_SECONDS),
            identity_audience=env.get("STRANGLER_IDENTITY_AUDIENCE", "").strip() or DEFAULT_IDENTITY_AUDIENCE,
            accept_identity_v1=_boolean(env, "STRANGLER_IDENTITY_ACCEPT_V1"),
        )


def database_url(env: Mapping[str, str]) -> str:
    """DATABASE_URL alone, for commands that need nothing else (migrate)."""
    url = _required(env, "DATABASE_URL")
    if urlsplit(url).scheme not in ("postgresql", "postgres"):
        raise ConfigurationError(
            f"DATABASE_URL must be a PostgreSQL URL (postgresql://user@host:port/database), not {url.split(':')[0]}:…"
        )
    return url


def identity_key(env: Mapping[str, str]) -> str:
    key = _required(env, "STRANGLER_IDENTITY_KEY")
    if len(key) < MIN_IDENTITY_KEY_LENGTH:
        raise ConfigurationError(
            f"STRANGLER_IDENTITY_KEY must be at least {MIN_IDENTITY_KEY_LENGTH} characters (the proxy's key)"
        )
    return key


def _boolean(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ConfigurationError(f"{name} must be true or false, not {value!r}")


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"{name} is not set")
    return value


def _http_url(env: Mapping[str, str], name: str) -> str:
    url = _required(env, name).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"{name} must be an http:// or https:// URL, not {url!r}")
    return url


def _hosts(env: Mapping[str, str]) -> tuple[str, ...]:
    hosts = tuple(h.strip().lower() for h in _required(env, "ALLOWED_HOSTS").split(",") if h.strip())
    if not hosts:
        raise ConfigurationError("ALLOWED_HOSTS names no host (comma-separated names, '.domain' or '*')")
    return hosts


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigurationError(f"{name} must be a positive integer, not {raw!r}")
    return int(raw)


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ConfigurationError(f"{name} must be a positive number of seconds, not {raw!r}")
    return value
