"""The headers the proxy sends upstream, from the client's: what is dropped, what is added, and who the client is.

Hop-by-hop headers and those named in ``Connection`` are removed; internal control headers (``X-Strangler-*``) are
removed; ``Expect`` is answered by the server, not forwarded; ``X-Forwarded-For``, ``-Proto`` and ``-Host`` are set
from the connection, extending client-sent values only when the peer is a trusted proxy; ``Via`` is appended to;
``X-Request-Id`` is kept when valid (visible ASCII, at most 200 bytes), or created (so that the access log, the
upstream, the comparison and the answer share an id: `app.py` puts it on every response); ``Host``,
``traceparent`` and every other end-to-end header pass unchanged. ``Content-Length`` passes unchanged;
``Transfer-Encoding`` is framing and is redone by the upstream client.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass

from strangler_proxy.dataplane.settings import IPNetwork
from strangler_proxy.http.headers import HOP_BY_HOP, Headers, connection_tokens

_DROPPED_FROM_CLIENT = HOP_BY_HOP | {
    b"expect",
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"x-forwarded-host",
    b"via",
    b"x-request-id",
}
CONTROL_PREFIX = b"x-strangler-"
# Request ids need to be unique, not secret: the Mersenne twister (seeded from the OS at start) costs no syscall,
# where uuid4 reads os.urandom on every request.
_random_bits = random.Random().getrandbits
_MAX_REQUEST_ID = 200


@dataclass(frozen=True, slots=True)
class ForwardedFor:
    client_ip: str  # the address the proxy believes is the client's (first untrusted hop)
    request_id: str


def is_trusted(address: str, trusted: tuple[IPNetwork, ...]) -> bool:
    if not trusted:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def upstream_request_headers(
    headers: Headers,
    *,
    peer: str,
    scheme: str,
    trusted: tuple[IPNetwork, ...],
    via_name: str,
) -> tuple[Headers, ForwardedFor]:
    """The headers to send upstream, and who the client is, from the client's (lower-case) headers."""
    named = connection_tokens(headers)
    peer_trusted = is_trusted(peer, trusted)
    out: Headers = []
    xff: list[bytes] = []
    proto: bytes | None = None
    fhost: bytes | None = None
    host: bytes | None = None
    via: list[bytes] = []
    request_id: bytes | None = None
    for name, value in headers:
        if name in _DROPPED_FROM_CLIENT or name in named or name.startswith(CONTROL_PREFIX):
            if name == b"x-forwarded-for":
                xff.append(value)
            elif name == b"x-forwarded-proto" and proto is None:
                proto = value
            elif name == b"x-forwarded-host" and fhost is None:
                fhost = value
            elif name == b"via":
                via.append(value)
            elif name == b"x-request-id" and request_id is None:
                request_id = value
            continue
        if name == b"host":
            host = value
        out.append((name, value))

    client_ip = peer
    if peer_trusted and xff:
        hops = [h.strip() for h in b",".join(xff).split(b",") if h.strip()]
        chain = b", ".join([*hops, peer.encode()])
        for hop in reversed(hops):
            candidate = hop.decode("latin-1")
            client_ip = candidate
            if not is_trusted(candidate, trusted):
                break
    else:
        chain = peer.encode()
    out.append((b"x-forwarded-for", chain))
    out.append((b"x-forwarded-proto", proto if peer_trusted and proto else scheme.encode()))
    forwarded_host = fhost if peer_trusted and fhost else host
    if forwarded_host is not None:
        out.append((b"x-forwarded-host", forwarded_host))
    via.append(b"1.1 " + via_name.encode())
    out.append((b"via", b", ".join(via)))
    request_id = request_id_or_new(request_id)
    out.append((b"x-request-id", request_id))
    return out, ForwardedFor(client_ip=client_ip, request_id=request_id.decode("ascii"))


def request_id_or_new(client: bytes | None) -> bytes:
    """The client's request id when it is a valid one, else a new one."""
    if client is None or not _valid_request_id(client):
        return b"%032x" % _random_bits(128)
    return client


def _valid_request_id(value: bytes) -> bool:
    return 0 < len(value) <= _MAX_REQUEST_ID and all(0x21 <= b <= 0x7E for b in value)
