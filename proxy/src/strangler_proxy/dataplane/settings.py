"""Data-plane settings: what the proxy trusts and how much it buffers, from the environment, validated loudly.

Every field has an environment variable (``STRANGLER_`` + the upper-case field name); `ProxySettings.from_env`
raises `SettingsError` naming the variable when a value is malformed.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from strangler_proxy.errors import ProxyError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ProxyError):
    code = "invalid_settings"


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


@dataclass(frozen=True, slots=True)
class ProxySettings:
    # Client-sent X-Forwarded-* are believed only from these peers (e.g. a load balancer in front).
    trusted_proxies: tuple[IPNetwork, ...] = ()
    via_name: str = "strangler"
    # Retries of idempotent, bodiless requests on connect errors or a pooled connection that died; never after a
    # byte reached the client.
    retries: int = 1
    breaker_failures: int = 5  # consecutive transport failures that open an upstream's circuit
    breaker_cooldown: float = 5.0  # seconds open before one probe request is let through
    shadow_workers: int = 8  # concurrent mirrored requests (a separate pool from client traffic)
    shadow_queue: int = 256  # mirrored requests waiting; when full, new ones are dropped and counted
    shadow_body_limit: int = 1 << 20  # bodies kept for comparison; larger ones are not mirrored
    shadow_ring: int = 1000  # recent shadow results kept in memory for the comparator
    pin_max_clients: int = 100_000  # read-your-writes pins held per replica (oldest evicted first)
    stream_chunk: int = 64 * 1024  # bytes buffered per direction before back-pressure
    access_log: bool = True
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ProxySettings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            var = "STRANGLER_" + f.name.upper()
            if var not in env:
                continue
            raw = env[var]
            try:
                if f.name == "trusted_proxies":
                    values[f.name] = parse_networks(raw)
                elif f.name == "access_log":
                    if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                        raise ValueError("expected true or false")
                    values[f.name] = raw.lower() in ("1", "true", "yes")
                elif f.name == "via_name":
                    if not raw or any(c.isspace() or c == "," for c in raw):
                        raise ValueError("expected one token")
                    values[f.name] = raw
                elif f.type in ("float",):
                    values[f.name] = float(raw)
                else:
                    values[f.name] = int(raw)
            except ValueError as exc:
                raise SettingsError(f"{var}={raw!r} is invalid: {exc}") from exc
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        for name in ("shadow_workers", "shadow_queue", "shadow_ring", "pin_max_clients", "stream_chunk"):
            if getattr(self, name) < 1:
                raise SettingsError(f"STRANGLER_{name.upper()} must be at least 1")
        for name in ("retries", "breaker_failures", "shadow_body_limit"):
            if getattr(self, name) < 0:
                raise SettingsError(f"STRANGLER_{name.upper()} must not be negative")
        if self.breaker_cooldown <= 0:
            raise SettingsError("STRANGLER_BREAKER_COOLDOWN must be positive")
