"""`strangler proxy` settings: every one a keyword of `runtime.run` and an environment variable.

A keyword given to `run` (the CLI passes only flags the operator typed) wins over the environment, which
wins over the default. Everything is checked at start and a mistake stops the process with the
variable's name and what to do, before any socket opens.

Admin token policy: the admin API can change every route, so the proxy refuses to start without
STRANGLER_ADMIN_TOKEN or with one shorter than MIN_TOKEN_LENGTH characters. The one exception is local
development: with STRANGLER_ADMIN_INSECURE_DEV=1 *and* the admin listener on a loopback address, a
missing or short token is allowed (a warning is logged) and, without a token, the admin API accepts
unauthenticated requests whose Host header is loopback.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strangler_proxy.control.table_rules import normalise_upstream_url
from strangler_proxy.control_errors import ConfigInvalid

DEFAULT_LISTEN = "127.0.0.1:8080"
DEFAULT_ADMIN_LISTEN = "127.0.0.1:8081"
DEFAULT_ROUTE_STORE = "./strangler-routes.sqlite3"
DEFAULT_STORE_POLL = 2.0
MIN_TOKEN_LENGTH = 32
LOG_LEVELS = ("debug", "info", "warning", "error")
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")

# keyword -> environment variable
VARIABLES = {
    "listen": "STRANGLER_LISTEN",
    "admin_listen": "STRANGLER_ADMIN_LISTEN",
    "admin_token": "STRANGLER_ADMIN_TOKEN",
    "admin_insecure_dev": "STRANGLER_ADMIN_INSECURE_DEV",
    "route_store": "STRANGLER_ROUTE_STORE",
    "monolith_url": "STRANGLER_MONOLITH_URL",
    "store_poll": "STRANGLER_STORE_POLL",
    "log_level": "STRANGLER_LOG_LEVEL",
}
TOKEN_HINT = "generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"  # noqa: S105


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    host: str
    port: int
    admin_host: str
    admin_port: int
    admin_token: str | None = field(repr=False)
    admin_insecure_dev: bool
    route_store: str
    monolith_url: str | None
    store_poll: float
    log_level: str
    warnings: tuple[str, ...] = ()

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> RuntimeConfig:
        env = os.environ if environ is None else environ
        unknown = sorted(set(overrides) - set(VARIABLES))
        if unknown:
            raise ConfigInvalid(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(VARIABLES)}")

        def raw(key: str, default: str | None = None) -> str | None:
            value = overrides.get(key)
            if value is not None:
                return str(value) if not isinstance(value, bool) else ("1" if value else "0")
            return env.get(VARIABLES[key], default)

        host, port = _address("listen", raw("listen", DEFAULT_LISTEN) or DEFAULT_LISTEN)
        admin_host, admin_port = _address("admin_listen", raw("admin_listen", DEFAULT_ADMIN_LISTEN) or "")
        if (host, port) == (admin_host, admin_port) and port != 0:
            raise ConfigInvalid(
                f"STRANGLER_ADMIN_LISTEN must differ from STRANGLER_LISTEN ({host}:{port}): the admin API has its "
                f"own listener so that nothing on the public one can reach it"
            )
        insecure_dev = _flag("admin_insecure_dev", raw("admin_insecure_dev", "0") or "0")
        token = raw("admin_token") or None
        warnings: list[str] = []
        if insecure_dev and not _is_loopback(admin_host):
            raise ConfigInvalid(
                f"STRANGLER_ADMIN_INSECURE_DEV is only allowed with the admin listener on loopback, but "
                f"STRANGLER_ADMIN_LISTEN is {admin_host}:{admin_port}; bind it to 127.0.0.1 or set a token"
            )
        if token is None:
            if not insecure_dev:
                raise ConfigInvalid(
                    "STRANGLER_ADMIN_TOKEN is not set: the admin API changes every route, so it needs a bearer "
                    f"token of at least {MIN_TOKEN_LENGTH} characters ({TOKEN_HINT}). For local development only, "
                    "keep STRANGLER_ADMIN_LISTEN on 127.0.0.1 and set STRANGLER_ADMIN_INSECURE_DEV=1"
                )
            warnings.append(
                "STRANGLER_ADMIN_INSECURE_DEV: the admin API on loopback accepts requests WITHOUT a token; "
                "never run like this on a shared machine"
            )
        elif len(token) < MIN_TOKEN_LENGTH:
            if not insecure_dev:
                raise ConfigInvalid(
                    f"STRANGLER_ADMIN_TOKEN is too short ({len(token)} characters, at least {MIN_TOKEN_LENGTH} "
                    f"needed); {TOKEN_HINT}"
                )
            warnings.append(f"STRANGLER_ADMIN_TOKEN is shorter than {MIN_TOKEN_LENGTH} characters (dev mode)")
        route_store = raw("route_store", DEFAULT_ROUTE_STORE) or DEFAULT_ROUTE_STORE
        _check_store(route_store)
        monolith_url = raw("monolith_url") or None
        if monolith_url is not None:
            problem, monolith_url = normalise_upstream_url(monolith_url)
            if problem:
                raise ConfigInvalid(f"STRANGLER_MONOLITH_URL {problem}")
        poll_text = raw("store_poll", str(DEFAULT_STORE_POLL)) or str(DEFAULT_STORE_POLL)
        try:
            store_poll = float(poll_text)
        except ValueError:
            store_poll = -1.0
        if not 0.05 <= store_poll <= 60:
            raise ConfigInvalid(f"STRANGLER_STORE_POLL={poll_text!r} must be seconds between 0.05 and 60")
        log_level = (raw("log_level", "info") or "info").lower()
        if log_level not in LOG_LEVELS:
            raise ConfigInvalid(f"STRANGLER_LOG_LEVEL={log_level!r} must be one of {', '.join(LOG_LEVELS)}")
        return cls(
            host=host,
            port=port,
            admin_host=admin_host,
            admin_port=admin_port,
            admin_token=token,
            admin_insecure_dev=insecure_dev,
            route_store=route_store,
            monolith_url=monolith_url,
            store_poll=store_poll,
            log_level=log_level,
            warnings=tuple(warnings),
        )


def _address(key: str, text: str) -> tuple[str, int]:
    var = VARIABLES[key]
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigInvalid(f"{var}={text!r} must be HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080")
    return host, int(port_text)


def _flag(key: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise ConfigInvalid(f"{VARIABLES[key]}={text!r} must be 1 or 0")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_store(url: str) -> None:
    if url.startswith(("postgresql://", "postgres://")):
        return
    if "://" in url and not url.startswith("sqlite:///"):
        raise ConfigInvalid(
            f"STRANGLER_ROUTE_STORE={url!r} must be a SQLite file path (or sqlite:///path) or a postgresql:// URL"
        )
    parent = Path(url.removeprefix("sqlite:///")).expanduser().parent
    if not parent.is_dir():
        raise ConfigInvalid(f"STRANGLER_ROUTE_STORE: the directory {str(parent)!r} does not exist")
