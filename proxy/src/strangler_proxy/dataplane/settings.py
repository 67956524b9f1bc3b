"""Data-plane settings: what the proxy trusts, how much it buffers, retries and mirrors.

Every field is a setting of `strangler proxy`: the variable ``STRANGLER_`` + the upper-case field name, read and
checked at start with every other one (`control/settings.py`). `validate` guards a `ProxySettings` built in code.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from strangler_proxy.errors import SettingsInvalid

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


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
    breaker_cooldown: float = 5.0  # seconds open before one probe request is let through, at the latest
    # While a circuit is open, its upstream's health path is asked this often (jittered): the first healthy answer
    # lets one probe request through (0: no active probing, only the cooldown).
    breaker_probe_interval: float = 0.25
    shadow_workers: int = 8  # concurrent mirrored requests (a separate pool from client traffic)
    shadow_queue: int = 256  # mirrored requests waiting; when full, new ones are dropped and counted
    shadow_body_limit: int = 1 << 20  # bodies kept for comparison; larger ones are not mirrored
    shadow_ring: int = 1000  # recent shadow results kept in memory for the comparator
    shadow_ring_bytes: int = 16 << 20  # ... and the bytes of their bodies and headers at most (oldest dropped first)
    pin_max_clients: int = 100_000  # read-your-writes pins held per replica (oldest evicted first)
    stream_chunk: int = 64 * 1024  # bytes buffered per direction before back-pressure
    access_log: bool = True
    identity_cache_seconds: float = 5.0  # forward auth: how long a revoked token or a logout may still pass

    def validate(self) -> None:
        for name in ("shadow_workers", "shadow_queue", "shadow_ring", "pin_max_clients", "stream_chunk"):
            if getattr(self, name) < 1:
                raise SettingsInvalid(f"STRANGLER_{name.upper()} must be at least 1")
        for name in ("retries", "breaker_failures", "shadow_body_limit", "shadow_ring_bytes"):
            if getattr(self, name) < 0:
                raise SettingsInvalid(f"STRANGLER_{name.upper()} must not be negative")
        if self.breaker_cooldown <= 0:
            raise SettingsInvalid("STRANGLER_BREAKER_COOLDOWN must be positive")
        if self.breaker_probe_interval < 0:
            raise SettingsInvalid("STRANGLER_BREAKER_PROBE_INTERVAL must not be negative")
        if self.identity_cache_seconds < 0:
            raise SettingsInvalid("STRANGLER_IDENTITY_CACHE_SECONDS must not be negative")
