"""Sticky, monotonic canary cohorts.

A client's bucket is a hash of its sticky key into 0..9999; it is in the canary when ``bucket < percent * 100``.
The bucket never depends on the percentage, so raising the percentage only adds clients (monotonic), and the same
client always lands in the same bucket (sticky). The hash is salted with the *service* name, so a client is in or
out of one service's canary on all of that service's routes, while different services' cohorts are independent.

The key is the route's cookie or header value; when that is missing (a first visit), the client's address as the
proxy believes it (see `headers`), so a client is never unkeyed.
"""

from __future__ import annotations

import hashlib

from strangler_proxy.dataplane.model import Route
from strangler_proxy.http.headers import Headers, cookie_value, header_value

BUCKETS = 10_000


def bucket(key: str, salt: str) -> int:
    digest = hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8, key=salt.encode()[:64]).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def in_canary(bucket_value: int, percent: int) -> bool:
    return bucket_value < percent * (BUCKETS // 100)


def sticky_key(route: Route, headers: Headers, client_ip: str) -> str:
    sticky = route.sticky
    if sticky.kind == "cookie":
        value = cookie_value(headers, sticky.name)
        if value:
            return "cookie:" + value
    elif sticky.kind == "header":
        raw = header_value(headers, sticky.name.lower().encode())
        if raw:
            return "header:" + raw.decode("latin-1")
    return "client:" + client_ip
