"""Every setting of a `strangler proxy` process, read once at start into one `Settings` and checked there.

Each setting is an environment variable and a keyword of `runtime.run` (`VARIABLES`; the CLI passes only the
flags the operator typed): a keyword wins over the environment, which wins over the default; an empty variable is
unset. Everything is checked before the route store is opened or a socket bound, and a mistake stops the process
naming the variable and what it expects. The table of every variable is proxy/README.md ("Settings").

The layers get their part and nothing else: the data plane `Settings.proxy` (`ProxySettings`), the HTTP server
`Settings.server` (`ServerLimits`), the comparison `Settings.compare` (`CompareConfig`), the data gate
`Settings.data_gate` (`GateLimits`); the rest is the runtime's.

Admin token policy: the admin API can change every route, so the proxy refuses to start without
STRANGLER_ADMIN_TOKEN or with one shorter than MIN_TOKEN_LENGTH characters. The one exception is local
development: with STRANGLER_ADMIN_INSECURE_DEV=1 *and* the admin listener on a loopback address, a
missing or short token is allowed (a warning is logged) and, without a token, the admin API accepts
unauthenticated requests whose Host header is loopback.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from strangler_proxy.compare.settings import CompareConfig
from strangler_proxy.control.data_state import GateLimits
from strangler_proxy.control.replica import ReplicaSettings
from strangler_proxy.dataplane.identity import KEY_VARIABLE, identity_key_problem
from strangler_proxy.dataplane.settings import ProxySettings, parse_networks
from strangler_proxy.dataplane.table_rules import normalise_upstream_url
from strangler_proxy.errors import SettingsInvalid
from strangler_proxy.http.limits import ServerLimits

T = TypeVar("T")

DEFAULT_LISTEN = "127.0.0.1:8080"
DEFAULT_ADMIN_LISTEN = "127.0.0.1:8081"
DEFAULT_ROUTE_STORE = "./strangler-routes.sqlite3"
DEFAULT_STORE_POLL = 2.0
MIN_TOKEN_LENGTH = 32
LOG_LEVELS = ("debug", "info", "warning", "error")
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")
TOKEN_HINT = "generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"  # noqa: S105

# keyword -> environment variable, for every setting of the process
RUNTIME_VARIABLES = {
    "listen": "STRANGLER_LISTEN",
    "admin_listen": "STRANGLER_ADMIN_LISTEN",
    "mirror_listen": "STRANGLER_MIRROR_LISTEN",
    "admin_token": "STRANGLER_ADMIN_TOKEN",
    "admin_insecure_dev": "STRANGLER_ADMIN_INSECURE_DEV",
    "console_secure_cookie": "STRANGLER_CONSOLE_SECURE_COOKIE",
    "route_store": "STRANGLER_ROUTE_STORE",
    "monolith_url": "STRANGLER_MONOLITH_URL",
    "store_poll": "STRANGLER_STORE_POLL",
    "log_level": "STRANGLER_LOG_LEVEL",
    "identity_key": KEY_VARIABLE,
    "workers": "STRANGLER_WORKERS",
    "reuse_port": "STRANGLER_REUSE_PORT",
}
PROXY_VARIABLES = {f.name: f"STRANGLER_{f.name.upper()}" for f in fields(ProxySettings)}
SERVER_VARIABLES = {f"server_{f.name}": f"STRANGLER_SERVER_{f.name.upper()}" for f in fields(ServerLimits)}
COMPARE_KEYWORDS = (  # CompareConfig's fields, as operators name them
    "compare",
    "compare_queue",
    "compare_max_per_second",
    "mismatch_sample",
    "mismatch_per_minute",
    "mismatch_max_rows",
    "mismatch_max_age",
    "mismatch_max_body",
    "redact_fields",
    "redact_headers",
    "capture_file",
    "capture_sample",
    "capture_max_bytes",
)
COMPARE_VARIABLES = {keyword: f"STRANGLER_{keyword.upper()}" for keyword in COMPARE_KEYWORDS}
DATA_GATE_VARIABLES = {f"data_{f.name}": f"STRANGLER_DATA_{f.name.upper()}" for f in fields(GateLimits)}
REPLICA_VARIABLES = {
    "replica_id": "STRANGLER_REPLICA_ID",
    "replica_heartbeat": "STRANGLER_REPLICA_HEARTBEAT",
    "replica_fence_after": "STRANGLER_REPLICA_FENCE_AFTER",
    "replica_dead_after": "STRANGLER_REPLICA_DEAD_AFTER",
}
VARIABLES = {
    **RUNTIME_VARIABLES,
    **PROXY_VARIABLES,
    **SERVER_VARIABLES,
    **COMPARE_VARIABLES,
    **DATA_GATE_VARIABLES,
    **REPLICA_VARIABLES,
}


@dataclass(frozen=True, slots=True)
class Settings:
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
    identity_key: str = field(repr=False)
    workers: int = 1
    reuse_port: bool = False
    # the console's session cookie is Secure on every request, not only those that arrive over HTTPS (console/app.py)
    console_secure_cookie: bool = False
    proxy: ProxySettings = field(default_factory=ProxySettings)
    server: ServerLimits = field(default_factory=ServerLimits)
    compare: CompareConfig = field(default_factory=CompareConfig)
    data_gate: GateLimits = field(default_factory=GateLimits)
    replicas: ReplicaSettings = field(default_factory=ReplicaSettings)
    warnings: tuple[str, ...] = ()
    # another data plane's mirrors (nginx, a Gateway) are compared here (compare/mirror_intake.py); None: no listener
    mirror_host: str | None = None
    mirror_port: int | None = None

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read and check every setting; raise `SettingsInvalid` naming the first variable that is wrong."""
        read = _Reader(os.environ if environ is None else environ, overrides)
        warnings: list[str] = []
        host, port = _address("listen", read.text("listen") or DEFAULT_LISTEN)
        admin_host, admin_port = _address("admin_listen", read.text("admin_listen") or DEFAULT_ADMIN_LISTEN)
        if (host, port) == (admin_host, admin_port) and port != 0:
            raise SettingsInvalid(
                f"STRANGLER_ADMIN_LISTEN must differ from STRANGLER_LISTEN ({host}:{port}): the admin API has its "
                f"own listener so that nothing on the public one can reach it"
            )
        mirror_text = read.text("mirror_listen")
        mirror_host, mirror_port = _address("mirror_listen", mirror_text) if mirror_text else (None, None)
        insecure_dev = _flag("admin_insecure_dev", read.text("admin_insecure_dev") or "0")
        token = read.text("admin_token")
        _check_token(token, insecure_dev, admin_host, admin_port, warnings)
        route_store = read.text("route_store") or DEFAULT_ROUTE_STORE
        _check_store(route_store)
        monolith_url = read.text("monolith_url")
        if monolith_url is not None:
            problem, monolith_url = normalise_upstream_url(monolith_url)
            if problem:
                raise SettingsInvalid(f"STRANGLER_MONOLITH_URL {problem}")
        poll_text = read.text("store_poll") or str(DEFAULT_STORE_POLL)
        try:
            store_poll = float(poll_text)
        except ValueError:
            store_poll = -1.0
        if not 0.05 <= store_poll <= 60:
            raise SettingsInvalid(f"STRANGLER_STORE_POLL={poll_text!r} must be seconds between 0.05 and 60")
        log_level = (read.text("log_level") or "info").lower()
        if log_level not in LOG_LEVELS:
            raise SettingsInvalid(f"STRANGLER_LOG_LEVEL={log_level!r} must be one of {', '.join(LOG_LEVELS)}")
        identity_key = read.text("identity_key")
        if identity_key is None:
            raise SettingsInvalid(f"{KEY_VARIABLE} is not set; services refuse unsigned identities")
        problem = identity_key_problem(identity_key)
        if problem:
            raise SettingsInvalid(problem)
        workers = read.value("workers", 1, int, "a whole number from 1 to 64", between(1, 64))
        if workers > 1 and not route_store.startswith(("postgresql://", "postgres://")):
            raise SettingsInvalid(
                f"STRANGLER_WORKERS={workers} needs a PostgreSQL STRANGLER_ROUTE_STORE: the workers are replicas, and "
                f"only a shared store makes their write holds, pins and routes one"
            )
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
            identity_key=identity_key,
            workers=workers,
            reuse_port=_flag("reuse_port", read.text("reuse_port") or "0") or workers > 1,
            console_secure_cookie=_flag("console_secure_cookie", read.text("console_secure_cookie") or "0"),
            proxy=_proxy_settings(read),
            server=_server_limits(read),
            compare=_compare_config(read),
            data_gate=_gate_limits(read),
            replicas=_replica_settings(read),
            warnings=tuple(warnings),
            mirror_host=mirror_host,
            mirror_port=mirror_port,
        )


# --- each layer's part ------------------------------------------------------------------------------------------


def _proxy_settings(read: _Reader) -> ProxySettings:
    d = ProxySettings()
    return ProxySettings(
        trusted_proxies=read.value("trusted_proxies", d.trusted_proxies, parse_networks, "comma-separated CIDRs"),
        via_name=read.value("via_name", d.via_name, one_token, "one token, without spaces or commas"),
        retries=read.value("retries", d.retries, int, "a whole number >= 0", at_least(0)),
        breaker_failures=read.value("breaker_failures", d.breaker_failures, int, "a whole number >= 0", at_least(0)),
        breaker_cooldown=read.value("breaker_cooldown", d.breaker_cooldown, float, "seconds > 0", above(0)),
        breaker_probe_interval=read.value(
            "breaker_probe_interval", d.breaker_probe_interval, float, "seconds >= 0", at_least(0)
        ),
        shadow_workers=read.value("shadow_workers", d.shadow_workers, int, "a whole number >= 1", at_least(1)),
        shadow_queue=read.value("shadow_queue", d.shadow_queue, int, "a whole number >= 1", at_least(1)),
        shadow_body_limit=read.value("shadow_body_limit", d.shadow_body_limit, int, "bytes >= 0", at_least(0)),
        shadow_ring=read.value("shadow_ring", d.shadow_ring, int, "a whole number >= 1", at_least(1)),
        shadow_ring_bytes=read.value("shadow_ring_bytes", d.shadow_ring_bytes, int, "bytes >= 0", at_least(0)),
        pin_max_clients=read.value("pin_max_clients", d.pin_max_clients, int, "a whole number >= 1", at_least(1)),
        stream_chunk=read.value("stream_chunk", d.stream_chunk, int, "bytes >= 1", at_least(1)),
        access_log=read.value("access_log", d.access_log, boolean, "1 or 0"),
        identity_cache_seconds=read.value(
            "identity_cache_seconds", d.identity_cache_seconds, float, "seconds >= 0", at_least(0)
        ),
    )


def _server_limits(read: _Reader) -> ServerLimits:
    d = ServerLimits()
    return ServerLimits(
        max_url_bytes=read.value("server_max_url_bytes", d.max_url_bytes, int, "bytes >= 1", at_least(1)),
        max_header_bytes=read.value("server_max_header_bytes", d.max_header_bytes, int, "bytes >= 1", at_least(1)),
        max_headers=read.value("server_max_headers", d.max_headers, int, "a whole number >= 1", at_least(1)),
        header_timeout=read.value("server_header_timeout", d.header_timeout, float, "seconds > 0", above(0)),
        keepalive_timeout=read.value("server_keepalive_timeout", d.keepalive_timeout, float, "seconds > 0", above(0)),
        body_timeout=read.value("server_body_timeout", d.body_timeout, float, "seconds > 0", above(0)),
        body_buffer=read.value("server_body_buffer", d.body_buffer, int, "bytes >= 0", at_least(0)),
        max_body=read.value("server_max_body", d.max_body, int, "bytes >= 0 (0: no limit)", at_least(0)),
        body_deadline=read.value("server_body_deadline", d.body_deadline, float, "seconds > 0", above(0)),
        body_min_rate=read.value(
            "server_body_min_rate", d.body_min_rate, int, "bytes per second >= 0 (0: off)", at_least(0)
        ),
        high_water=read.value("server_high_water", d.high_water, int, "bytes >= 1", at_least(1)),
        write_high_water=read.value("server_write_high_water", d.write_high_water, int, "bytes >= 1", at_least(1)),
        send_timeout=read.value("server_send_timeout", d.send_timeout, float, "seconds > 0", above(0)),
        shutdown_grace=read.value("server_shutdown_grace", d.shutdown_grace, float, "seconds >= 0", at_least(0)),
        max_connections=read.value(
            "server_max_connections", d.max_connections, int, "a whole number >= 1", at_least(1)
        ),
    )


def _compare_config(read: _Reader) -> CompareConfig:
    d = CompareConfig()
    fraction = between(0, 1)
    return CompareConfig(
        enabled=read.value("compare", d.enabled, boolean, "1 or 0"),
        queue=read.value("compare_queue", d.queue, int, "a whole number >= 1", at_least(1)),
        max_per_second=read.value(
            "compare_max_per_second", d.max_per_second, float, "a number of comparisons > 0", above(0)
        ),
        mismatch_sample=read.value("mismatch_sample", d.mismatch_sample, float, "a number from 0 to 1", fraction),
        mismatch_per_minute=read.value(
            "mismatch_per_minute", d.mismatch_per_minute, int, "a whole number >= 0", at_least(0)
        ),
        mismatch_max_rows=read.value("mismatch_max_rows", d.mismatch_max_rows, int, "a whole number >= 1", at_least(1)),
        mismatch_max_age=read.value("mismatch_max_age", d.mismatch_max_age, float, "seconds > 0", above(0)),
        mismatch_max_body=read.value("mismatch_max_body", d.mismatch_max_body, int, "bytes >= 0", at_least(0)),
        redact_fields=read.value("redact_fields", d.redact_fields, names, "comma-separated names"),
        redact_headers=read.value("redact_headers", d.redact_headers, names, "comma-separated names"),
        capture_file=read.text("capture_file"),
        capture_sample=read.value("capture_sample", d.capture_sample, float, "a number from 0 to 1", fraction),
        capture_max_bytes=read.value("capture_max_bytes", d.capture_max_bytes, int, "bytes >= 1", at_least(1)),
    )


def _gate_limits(read: _Reader) -> GateLimits:
    d = GateLimits()
    return GateLimits(
        max_lag=read.value("data_max_lag", d.max_lag, float, "seconds > 0", above(0)),
        max_age=read.value("data_max_age", d.max_age, float, "seconds > 0", above(0)),
    )


def _replica_settings(read: _Reader) -> ReplicaSettings:
    d = ReplicaSettings()
    settings = ReplicaSettings(
        replica=read.text("replica_id") or "",
        heartbeat=read.value("replica_heartbeat", d.heartbeat, float, "seconds from 0.01 to 10", between(0.01, 10)),
        fence_after=read.value("replica_fence_after", d.fence_after, float, "seconds > 0", above(0)),
        dead_after=read.value("replica_dead_after", d.dead_after, float, "seconds > 0", above(0)),
    )
    if not settings.heartbeat * 2 <= settings.fence_after < settings.dead_after:
        raise SettingsInvalid(
            f"STRANGLER_REPLICA_FENCE_AFTER={settings.fence_after:g} must be at least twice "
            f"STRANGLER_REPLICA_HEARTBEAT={settings.heartbeat:g} and below STRANGLER_REPLICA_DEAD_AFTER="
            f"{settings.dead_after:g}: a replica the others stop waiting for must have fenced itself already"
        )
    return settings


# --- reading ----------------------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, environ: Mapping[str, str], overrides: Mapping[str, Any]) -> None:
        unknown = sorted(set(overrides) - set(VARIABLES))
        if unknown:
            raise SettingsInvalid(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(VARIABLES)}")
        self.environ = environ
        self.overrides = overrides

    def text(self, keyword: str) -> str | None:
        """The raw text of a setting, None when unset (or empty)."""
        value = self.overrides.get(keyword)
        if value is not None:
            return ("1" if value else "0") if isinstance(value, bool) else str(value)
        return self.environ.get(VARIABLES[keyword]) or None

    def value(
        self, keyword: str, default: T, parse: Callable[[str], T], want: str, check: Callable[[T], bool] | None = None
    ) -> T:
        raw = self.text(keyword)
        if raw is None:
            return default
        variable = VARIABLES[keyword]
        try:
            value = parse(raw.strip())
        except ValueError:
            raise SettingsInvalid(f"{variable}={raw!r} is invalid: expected {want}") from None
        if check is not None and not check(value):
            raise SettingsInvalid(f"{variable}={raw!r} is invalid: expected {want}")
        return value


def at_least(low: float) -> Callable[[float], bool]:
    return lambda v: math.isfinite(v) and v >= low


def above(low: float) -> Callable[[float], bool]:
    return lambda v: math.isfinite(v) and v > low


def between(low: float, high: float) -> Callable[[float], bool]:
    return lambda v: low <= v <= high


def boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise ValueError(raw)


def one_token(raw: str) -> str:
    if not raw or any(c.isspace() or c == "," for c in raw):
        raise ValueError(raw)
    return raw


def names(raw: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in raw.split(",") if n.strip())


# --- the runtime's own checks -------------------------------------------------------------------------------------


def _address(key: str, text: str) -> tuple[str, int]:
    var = VARIABLES[key]
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise SettingsInvalid(f"{var}={text!r} must be HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080")
    return host, int(port_text)


def _flag(key: str, text: str) -> bool:
    try:
        return boolean(text.strip())
    except ValueError:
        raise SettingsInvalid(f"{VARIABLES[key]}={text!r} must be 1 or 0") from None


def _check_token(token: str | None, insecure_dev: bool, admin_host: str, admin_port: int, warnings: list[str]) -> None:
    if insecure_dev and not _is_loopback(admin_host):
        raise SettingsInvalid(
            f"STRANGLER_ADMIN_INSECURE_DEV is only allowed with the admin listener on loopback, but "
            f"STRANGLER_ADMIN_LISTEN is {admin_host}:{admin_port}; bind it to 127.0.0.1 or set a token"
        )
    if token is None:
        if not insecure_dev:
            raise SettingsInvalid(
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
            raise SettingsInvalid(
                f"STRANGLER_ADMIN_TOKEN is too short ({len(token)} characters, at least {MIN_TOKEN_LENGTH} "
                f"needed); {TOKEN_HINT}"
            )
        warnings.append(f"STRANGLER_ADMIN_TOKEN is shorter than {MIN_TOKEN_LENGTH} characters (dev mode)")


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
        raise SettingsInvalid(
            f"STRANGLER_ROUTE_STORE={url!r} must be a SQLite file path (or sqlite:///path) or a postgresql:// URL"
        )
    parent = Path(url.removeprefix("sqlite:///")).expanduser().parent
    if not parent.is_dir():
        raise SettingsInvalid(f"STRANGLER_ROUTE_STORE: the directory {str(parent)!r} does not exist")
