"""Identity across services, proxy side: resolve a client's credentials against the monolith (forward auth, the
pattern of nginx ``auth_request`` / Envoy ``ext_authz``) and pass services a signed identity. The contract —
endpoint, header format, test vector — is docs/identity.md.

    signer = IdentitySigner(key)                         # STRANGLER_IDENTITY_KEY, >= 32 characters
    auth = ForwardAuth("http://127.0.0.1:8000", cache_seconds=5.0)  # the monolith; STRANGLER_IDENTITY_CACHE_SECONDS
    answer = await auth.resolve(method, target, out_headers)   # User | None (anonymous) | Refusal
    await auth.close()                                   # on shutdown

How `ProxyApp` calls it, for a request whose decision sends it to a service (``upstream != default``) — never
for requests to the monolith, which authenticates them itself:

1. Build ``out_headers`` as today (`forwarding.upstream_request_headers` already drops client-sent
   ``X-Strangler-*``), then ``answer = await auth.resolve(method, target, out_headers)`` before opening the
   upstream (``target``: the canonical path and query the upstream will receive).
2. ``Refusal``: send ``answer.status``, ``answer.headers`` plus a ``content-length``, and ``answer.body`` to the
   client (the monolith's own 401/403 for those credentials) and stop; do not call the service. Log it like an
   upstream answer from ``monolith`` with ``error="identity_refused"``.
3. ``ForwardAuthUnavailable`` (a `ProxyError`, 503): answer it like any error of the proxy — fail closed.
4. Otherwise ``out_headers = with_identity(out_headers, signer, answer, audience=service)``: it removes any
   identity header and, for a user, adds ``X-Strangler-Identity`` signed now for that service (``aud``); unless the
   route opts in (``forward_credentials``), it also withholds the client's ``Authorization`` and ``Cookie``, naming
   only their kinds in ``X-Strangler-Credentials``.
5. A safe request that falls back from the service to the monolith goes with the headers as they were before this
   step (the client's credentials, no identity). Shadow copies to a service are resolved the same way (mirrors of
   anonymous requests need no call).

The exact code, tried end to end against `e2e/`, is in docs/identity.md ("Wiring it into ProxyApp").

The monolith is asked through the data plane's own client (`http/client.py`), on a pool of its own, with the
whole question bounded by `timeout`.

Credentials are never logged or stored in clear: the cache is keyed by a SHA-256 of the headers that decide the
answer, and holds only the answer. Only users and anonymous answers are cached: a refusal names the methods of
the endpoint asked about (``Allow``), so it is asked for each time (concurrent identical questions still share
one call).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from strangler_proxy.dataplane.model import Upstream
from strangler_proxy.errors import ForwardAuthUnavailable, SettingsInvalid, UpstreamError
from strangler_proxy.http.client import UpstreamPool
from strangler_proxy.http.headers import Headers

__all__ = [
    "IDENTITY_HEADER",
    "ForwardAuth",
    "ForwardAuthUnavailable",
    "IdentitySigner",
    "Refusal",
    "User",
    "with_identity",
]

IDENTITY_HEADER = b"x-strangler-identity"
KEY_VARIABLE = "STRANGLER_IDENTITY_KEY"
KEY_MIN_LENGTH = 32
VERSION = "v2"
DEFAULT_LIFETIME = 30  # seconds; the proxy signs per request, so this only has to cover one hop and clock skew
MAX_LIFETIME = 30  # what a v2 verifier accepts at most (docs/identity.md)
DEFAULT_PATH = "/internal/identity/"
DEFAULT_TIMEOUT = 2.0
DEFAULT_CACHE_SECONDS = 5.0  # how long a revoked token or a logout may still pass
DEFAULT_CACHE_SIZE = 10_000
DEFAULT_MAX_CONNECTIONS = 32

CREDENTIAL_HEADERS = (b"authorization", b"cookie")
CREDENTIAL_KINDS_HEADER = b"x-strangler-credentials"  # which credentials were withheld (kinds only, never values)
# Everything the monolith's answer depends on: the credentials, and what its CSRF check reads.
DECIDING_HEADERS = (*CREDENTIAL_HEADERS, b"x-csrftoken", b"origin", b"referer", b"host", b"x-forwarded-proto")
SAFE_DECIDING_HEADERS = (*CREDENTIAL_HEADERS, b"host")
TRACE_HEADERS = (b"x-request-id", b"traceparent")
# A refusal keeps the monolith's headers except these: framing, the identity endpoint's own caching rule, and
# cookies (the answer is about the request, it must not change the client's state).
DROPPED_FROM_REFUSAL = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"content-length",
        b"date",
        b"server",
        b"cache-control",
        b"set-cookie",
    }
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

log = logging.getLogger("strangler.proxy.identity")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    is_staff: bool
    customer: int | None = None  # the user's customer id, signed as `customer` when the monolith names one


@dataclass(frozen=True, slots=True)
class Refusal:
    """The monolith's answer to the client's credentials (401 or 403), to be sent to the client unchanged."""

    status: int
    headers: Headers
    body: bytes


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def identity_key_problem(key: str) -> str | None:
    """Why `key` cannot sign identities (naming its variable), or None."""
    if len(key) < KEY_MIN_LENGTH:
        return (
            f"{KEY_VARIABLE} must be at least {KEY_MIN_LENGTH} characters long (it is {len(key)}); "
            "set it to the key the services verify with"
        )
    return None


class IdentitySigner:
    """Signs `v2` identities: `v1`'s claims plus `aud`, the upstream the identity is minted for, which a service
    checks is its own (so an identity captured at one service cannot be replayed to another), and `customer` when
    the user has a customer profile (what customer-owned data, e.g. a review, stores)."""

    def __init__(self, key: str, *, lifetime: int = DEFAULT_LIFETIME, clock: Callable[[], float] = time.time) -> None:
        problem = identity_key_problem(key)
        if problem:
            raise SettingsInvalid(problem)
        if not 0 <= lifetime <= MAX_LIFETIME:
            raise SettingsInvalid(f"an identity lives 0..{MAX_LIFETIME} s, not {lifetime}")
        self._key = key.encode("utf-8")
        self._lifetime = lifetime
        self._clock = clock

    def sign(self, user: User, *, audience: str, now: int | None = None) -> bytes:
        issued = int(self._clock()) if now is None else now
        claims: dict[str, object] = {
            "aud": audience,
            "sub": user.id,
            "username": user.username,
            "staff": user.is_staff,
            "iat": issued,
            "exp": issued + self._lifetime,
        }
        if user.customer is not None:
            claims["customer"] = user.customer
        payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode("utf-8"))
        signed = f"{VERSION}.{payload}"
        mac = hmac.new(self._key, signed.encode("ascii"), hashlib.sha256).digest()
        return f"{signed}.{_b64(mac)}".encode("ascii")


def with_identity(
    headers: Headers, signer: IdentitySigner, user: User | None, *, audience: str, forward_credentials: bool = False
) -> Headers:
    """`headers` as the service `audience` gets them: without any identity header, plus one freshly signed for `user`
    and `audience`; and, unless `forward_credentials`, without the client's monolith credentials (`Authorization`,
    `Cookie`), whose kinds only are named in `X-Strangler-Credentials` (`token` for `Authorization: Token …`,
    `authorization` for another scheme, `cookie`): a service answers as the monolith would (its `Vary`) without
    holding anything it could replay."""
    out: Headers = []
    kinds: list[bytes] = []
    for name, value in headers:
        lname = name.lower()
        if lname in (IDENTITY_HEADER, CREDENTIAL_KINDS_HEADER):
            continue
        if not forward_credentials and lname in CREDENTIAL_HEADERS:
            kind = lname
            if lname == b"authorization" and value.split(b" ", 1)[0].lower() == b"token":
                kind = b"token"
            if kind not in kinds:
                kinds.append(kind)
            continue
        out.append((name, value))
    if kinds:
        out.append((CREDENTIAL_KINDS_HEADER, b", ".join(kinds)))
    if user is not None:
        out.append((IDENTITY_HEADER, signer.sign(user, audience=audience)))
    return out


Answer = User | Refusal | None


@dataclass(frozen=True, slots=True)
class _Cached:
    answer: Answer
    until: float


class ForwardAuth:
    def __init__(
        self,
        monolith_url: str,
        *,
        path: str = DEFAULT_PATH,
        timeout: float = DEFAULT_TIMEOUT,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        cache_size: int = DEFAULT_CACHE_SIZE,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.monolith_url = monolith_url
        self.url = monolith_url.rstrip("/") + path
        self._path = path.encode("latin-1")
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._cache_size = cache_size
        self._max_connections = max_connections
        self._clock = clock
        self._cache: OrderedDict[bytes, _Cached] = OrderedDict()
        self._inflight: dict[bytes, asyncio.Future[Answer]] = {}
        self._pool: UpstreamPool | None = None
        self.calls = 0  # requests made to the monolith (for metrics and tests)

    async def resolve(self, method: str, target: bytes, headers: Headers) -> Answer:
        """Who `headers` (the request for `target` as it will go upstream) name: a user, None for anonymous, or
        the monolith's refusal. Raises `ForwardAuthUnavailable` when the monolith cannot tell."""
        if not any(n.lower() in CREDENTIAL_HEADERS for n, _ in headers):
            return None
        key = self._cache_key(method, headers)
        cached = self._cache.get(key)
        if cached is not None:
            if cached.until > self._clock():
                self._cache.move_to_end(key)
                return cached.answer
            del self._cache[key]
        # One question per key at a time; it runs as its own task so that a caller who goes away does not
        # cancel the answer others are waiting for.
        question = key + target.partition(b"?")[0]
        task = self._inflight.get(question)
        if task is None:
            task = self._inflight[question] = asyncio.ensure_future(self._ask(method, target, headers))
            task.add_done_callback(lambda done: self._settle(question, key, done))
        return await asyncio.shield(task)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def _cache_key(self, method: str, headers: Headers) -> bytes:
        safe = method.upper() in SAFE_METHODS
        # The CSRF headers only matter for unsafe methods; keying safe ones on Referer would split the cache per page.
        deciding = SAFE_DECIDING_HEADERS if safe else DECIDING_HEADERS
        digest = hashlib.sha256(b"safe" if safe else b"unsafe")
        for name, value in sorted((n.lower(), v) for n, v in headers if n.lower() in deciding):
            digest.update(b"\0" + name + b"\0" + value)
        return digest.digest()

    def _settle(self, question: bytes, key: bytes, task: asyncio.Future[Answer]) -> None:
        del self._inflight[question]
        if task.cancelled() or task.exception() is not None:
            return
        self._remember(key, task.result())

    def _remember(self, key: bytes, answer: Answer) -> None:
        if self._cache_seconds <= 0 or isinstance(answer, Refusal):
            return
        self._cache[key] = _Cached(answer, self._clock() + self._cache_seconds)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _client(self) -> UpstreamPool:
        if self._pool is None:
            # No circuit breaker: every question gets its own answer (or its own 503), as before the first failure.
            monolith = Upstream(
                name="identity",
                url=self.monolith_url.rstrip("/"),
                connect_timeout=self._timeout,
                read_timeout=self._timeout,
                max_connections=self._max_connections,
            )
            self._pool = UpstreamPool(monolith, breaker_failures=0)
        return self._pool

    async def _ask(self, method: str, target: bytes, headers: Headers) -> Answer:
        # Only what decides the answer and what traces it; no cookie ever comes back into a question, since the
        # client keeps no jar.
        out: Headers = [
            (n.lower(), v) for n, v in headers if n.lower() in DECIDING_HEADERS or n.lower() in TRACE_HEADERS
        ]
        out += [
            (b"accept", b"application/json"),
            (b"x-original-method", method.upper().encode("latin-1")),
            (b"x-original-uri", target),
        ]
        self.calls += 1
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._client().request("GET", self._path, out)
                try:
                    body = b"".join([chunk async for chunk in response.chunks()])
                finally:
                    response.release()
        except (UpstreamError, TimeoutError) as exc:
            log.warning("forward auth: %s unreachable: %s", self.url, type(exc).__name__)
            raise ForwardAuthUnavailable(f"the identity provider did not answer ({type(exc).__name__})") from exc
        status = response.status
        if status in (401, 403):
            kept = [(n, v) for n, v in response.headers if n not in DROPPED_FROM_REFUSAL]
            return Refusal(status=status, headers=kept, body=body)
        if status != 200:
            log.warning("forward auth: %s answered %d", self.url, status)
            raise ForwardAuthUnavailable(f"the identity provider answered {status}")
        return _user_from(body)


def _user_from(body: bytes) -> User | None:
    try:
        document: Any = json.loads(body)
    except ValueError as exc:
        raise ForwardAuthUnavailable("the identity provider's answer is not JSON") from exc
    if not isinstance(document, dict) or "user" not in document:
        raise ForwardAuthUnavailable("the identity provider's answer has no user")
    user = document["user"]
    if user is None:
        return None
    if (
        isinstance(user, dict)
        and type(user.get("id")) is int
        and isinstance(user.get("username"), str)
        and user["username"]
        and type(user.get("is_staff")) is bool
        and (user.get("customer") is None or type(user["customer"]) is int)
    ):
        return User(id=user["id"], username=user["username"], is_staff=user["is_staff"], customer=user.get("customer"))
    raise ForwardAuthUnavailable("the identity provider's user is not {id, username, is_staff[, customer]}")
