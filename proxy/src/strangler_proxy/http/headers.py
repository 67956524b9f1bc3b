"""HTTP headers as the proxy holds them (a list of (lower-case name, value) bytes pairs) and the rules any HTTP/1.1
proxy applies to them both ways: hop-by-hop headers, and those a ``Connection`` header names, are not forwarded
(RFC 9110 §7.6.1) — except that ``Connection`` can never name away the framing or ``Host`` (`NOT_NOMINABLE`): the
nomination is ignored, since each side frames what it sends itself. What the proxy itself adds on the way up is
the data plane's `forwarding.py`.
"""

from __future__ import annotations

from typing import Final

Headers = list[tuple[bytes, bytes]]

# Final: the compiled hot path (mypyc) reads these from C statics, not the module's dict, on every use.
HOP_BY_HOP: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-authorization",
    }
)
# What a `Connection` header may not remove: the framing is decided by whoever sends the message, and a request
# without its Host would reach the upstream as another site's.
NOT_NOMINABLE: Final = frozenset({b"content-length", b"transfer-encoding", b"host"})
FRAMING: Final = frozenset({b"content-length", b"transfer-encoding"})
_NO_TOKENS: Final[frozenset[bytes]] = frozenset()
# The tokens of the `Connection` values nearly every message carries, as `connection_tokens` would compute them.
_COMMON_TOKENS: Final = {
    value: frozenset({value.lower()})
    for value in (b"keep-alive", b"Keep-Alive", b"close", b"Close", b"upgrade", b"Upgrade", b"te", b"TE")
}


def connection_tokens(headers: Headers) -> frozenset[bytes]:
    """The header names `Connection` headers nominate for removal, less those that may not be removed."""
    tokens: list[bytes] | None = None
    common: frozenset[bytes] | None = None
    for name, value in headers:
        if name != b"connection":
            continue
        if tokens is None and common is None:
            common = _COMMON_TOKENS.get(value)  # a single well-known token: no split, no new set
            if common is not None:
                continue
        if tokens is None:
            tokens = [] if common is None else list(common)
            common = None
        for token in value.lower().split(b","):
            token = token.strip()
            if token and token not in NOT_NOMINABLE:
                tokens.append(token)
    if common is not None:
        return common
    return frozenset(tokens) if tokens else _NO_TOKENS


def downstream_response_headers(headers: Headers) -> Headers:
    named = connection_tokens(headers)
    return [(n, v) for n, v in headers if n not in HOP_BY_HOP and n not in named]


def header_value(headers: Headers, name: bytes) -> bytes | None:
    for n, v in headers:
        if n == name:
            return v
    return None


def cookie_value(headers: Headers, cookie: str) -> str | None:
    wanted = cookie.encode()
    for n, v in headers:
        if n != b"cookie":
            continue
        for pair in v.split(b";"):
            key, sep, val = pair.strip().partition(b"=")
            if sep and key == wanted:
                return val.decode("latin-1")
    return None
