"""The headers the proxy sends upstream, from the client's: what is dropped, what is added, and who the client is.

Hop-by-hop headers and those named in ``Connection`` are removed (``Connection`` cannot name away ``Host`` or the
framing: `http.headers.NOT_NOMINABLE`); internal control headers (``X-Strangler-*``) are removed (the server has
already dropped every header name with ``_``, so no spelling a WSGI server would read as one passes either);
``Expect`` is answered by the server, not forwarded. ``Content-Length`` and ``Transfer-Encoding`` never pass: the
upstream client frames the body the proxy forwards (`http.client.request_head`).

Who the client is comes from the connection. Client-sent ``X-Forwarded-For``, ``-Proto``, ``-Host``,
``Forwarded`` and ``X-Real-IP`` are believed only when the peer is a trusted proxy: then the chains are extended
with the peer (``X-Real-IP`` is kept); otherwise they are replaced by what the proxy saw. ``X-Forwarded-*`` are
always sent; ``Forwarded`` and ``X-Real-IP`` only when the client sent them. ``Via`` is appended to — and a
request whose ``Via`` already names this proxy is a loop (`ForwardedFor.loop`: the app answers 508).
``X-Request-Id`` is kept when valid (visible ASCII, at most 200 bytes), or created (so that the access log, the
upstream, the comparison and the answer share an id: `app.py` puts it on every response); ``Host``,
``traceparent`` and every other end-to-end header pass unchanged.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Final

from strangler_proxy.dataplane.settings import IPNetwork
from strangler_proxy.http.headers import HOP_BY_HOP, Headers, connection_tokens

# Final: the compiled hot path (mypyc) reads these from C statics, not the module's dict, for every field.
_DROPPED_FROM_CLIENT: Final = HOP_BY_HOP | {
    b"content-length",
    b"expect",
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"x-forwarded-host",
    b"forwarded",
    b"x-real-ip",
    b"via",
    b"x-request-id",
}
CONTROL_PREFIX: Final = b"x-strangler-"
_SCHEMES: Final = {"http": b"http", "https": b"https"}
# This proxy's own `Via` entry for each name it has been given (one, from the settings): built once, not per request.
_OUR_VIA: dict[str, bytes] = {}
# Request ids need to be unique, not secret: the Mersenne twister (seeded from the OS at start) costs no syscall,
# where uuid4 reads os.urandom on every request.
_random_bits: Final = random.Random().getrandbits
_MAX_REQUEST_ID: Final = 200


class ForwardedFor:
    """Who the client is, made once per request (a plain class: compiled, it is a native one, where a named
    tuple's constructor runs as interpreted Python)."""

    __slots__ = ("client_ip", "loop", "request_id")

    def __init__(self, client_ip: str, request_id: str, loop: bool = False) -> None:
        self.client_ip = client_ip  # the address the proxy believes is the client's (first untrusted hop)
        self.request_id = request_id
        self.loop = loop  # the request's Via already names this proxy


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
    peer_trusted = bool(trusted) and is_trusted(peer, trusted)
    out: Headers = []
    xff: list[bytes] = []
    proto: bytes | None = None
    fhost: bytes | None = None
    host: bytes | None = None
    via: list[bytes] = []
    request_id: bytes | None = None
    forwarded: list[bytes] = []
    real_ip: bytes | None = None
    for pair in headers:  # the pairs that pass are forwarded as they are (no new tuple each)
        name = pair[0]
        if name in _DROPPED_FROM_CLIENT or name in named or name.startswith(CONTROL_PREFIX):
            value = pair[1]
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
            elif name == b"forwarded":
                forwarded.append(value)
            elif name == b"x-real-ip" and real_ip is None:
                real_ip = value
            continue
        if name == b"host":
            host = pair[1]
        out.append(pair)

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
    if not (peer_trusted and proto):
        proto = _SCHEMES.get(scheme) or scheme.encode()
    out.append((b"x-forwarded-proto", proto))
    forwarded_host = fhost if peer_trusted and fhost else host
    if forwarded_host is not None:
        out.append((b"x-forwarded-host", forwarded_host))
    if forwarded:
        element = _forwarded_element(peer, host, scheme)
        out.append((b"forwarded", b", ".join([*forwarded, element]) if peer_trusted else element))
    if real_ip is not None:
        out.append((b"x-real-ip", real_ip if peer_trusted else peer.encode()))
    our_via = _OUR_VIA.get(via_name)
    if our_via is None:
        our_via = _OUR_VIA[via_name] = b"1.1 " + via_name.encode()
    if via:
        loop = _names_us(via, via_name.encode())
        via.append(our_via)
        out.append((b"via", b", ".join(via)))
    else:
        loop = False
        out.append((b"via", our_via))
    request_id = request_id_or_new(request_id) if request_id is not None else b"%032x" % _random_bits(128)
    out.append((b"x-request-id", request_id))
    return out, ForwardedFor(client_ip=client_ip, request_id=request_id.decode("ascii"), loop=loop)


def _forwarded_element(peer: str, host: bytes | None, scheme: str) -> bytes:
    """This hop as a ``Forwarded`` element (RFC 7239): the peer, and the host and scheme it asked for."""
    node = f'"[{peer}]"' if ":" in peer else peer  # an IPv6 address is quoted and bracketed
    element = b"for=" + node.encode()
    if host is not None and host.isascii() and b'"' not in host and b"\\" not in host:
        element += b';host="' + host + b'"'
    return element + b";proto=" + scheme.encode()


def _names_us(via: list[bytes], name: bytes) -> bool:
    """Whether a ``Via`` entry (``protocol received-by [comment]``) was added by a proxy called `name`."""
    for entry in b",".join(via).split(b","):
        parts = entry.split()
        if len(parts) >= 2 and parts[1].lower() == name.lower():
            return True
    return False


def request_id_or_new(client: bytes | None) -> bytes:
    """The client's request id when it is a valid one, else a new one."""
    if client is None or not _valid_request_id(client):
        return b"%032x" % _random_bits(128)
    return client


def _valid_request_id(value: bytes) -> bool:
    return 0 < len(value) <= _MAX_REQUEST_ID and all(0x21 <= b <= 0x7E for b in value)
