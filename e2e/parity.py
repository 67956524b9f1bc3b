"""Ask the monolith and the service the same question, as the same persona, and compare the answers.

A persona reaches the monolith with its token and the service with the identity the proxy would sign for it;
`invalid` stands for credentials that name nobody (a made-up token / an identity signed with the wrong key)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from strangler_proxy.dataplane.identity import IdentitySigner, User

from seed import Shop

# What a client can observe and both must agree on. Date, Server and Content-Length say nothing about behaviour
# (the bodies are compared).
COMPARED_HEADERS = (
    "content-type",
    "vary",
    "www-authenticate",
    "allow",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
    "cross-origin-opener-policy",
)
TIMESTAMPS = ("created_at", "updated_at")
IDENTITY_KEY = "strangler-e2e-identity-key-0123456789abcdef"
PUBLIC_HOST = "shop.test"  # every side is asked under the same Host, so absolute URLs in bodies agree
INVALID = "invalid"
ANONYMOUS = "anon"

_SIGNER = IdentitySigner(IDENTITY_KEY)
_FORGER = IdentitySigner("not-the-key-of-this-deployment-0123456789")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    raw: bytes | None = None  # the body byte for byte: equal JSON is not enough, clients may hash or diff it

    def masked(self) -> Answer:
        """The same answer with the timestamps of objects written during the run blanked (and so no raw body)."""
        return Answer(self.status, self.headers, _mask(self.body))


@dataclass
class Side:
    name: str
    url: str
    shop: Shop
    sign: bool  # True: a service, which only understands signed identities
    audience: str = "catalog"  # the service's upstream name: the identity is minted for it
    # As the proxy sends a service the client's credentials: withheld (their kinds named), unless the route forwards
    # them (the inventory service asks the catalog as the client, so its route opts in).
    forward_credentials: bool = False
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=10, headers={"Host": PUBLIC_HOST})

    def credentials(self, persona: str) -> dict[str, str]:
        """The monolith gets the client's token; the service gets what the proxy sends it (docs/identity.md): the
        identity signed for it and, unless its route forwards them, not the token but its kind."""
        if persona == ANONYMOUS:
            return {}
        token = "not-a-real-token" if persona == INVALID else self.shop.personas[persona].token
        headers = {"Authorization": f"Token {token}"}
        if not self.sign:
            return headers
        if not self.forward_credentials:
            headers = {"X-Strangler-Credentials": "token"}
        if persona == INVALID:
            forged = _FORGER.sign(User(1, "alice", True), audience=self.audience)
            return {**headers, "X-Strangler-Identity": forged.decode()}
        who = self.shop.personas[persona]
        signed = _SIGNER.sign(User(who.id, who.name, who.is_staff, who.customer), audience=self.audience)
        return {**headers, "X-Strangler-Identity": signed.decode()}

    def ask(
        self,
        persona: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        headers = {**self.credentials(persona), **(headers or {})}
        if content_type:
            headers["Content-Type"] = content_type
        if json_body is not None:
            content = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        response = self.client.request(method, path, params=params, content=content, headers=headers)
        return answer_of(response)

    def close(self) -> None:
        self.client.close()


def answer_of(response: httpx.Response) -> Answer:
    headers = {name: response.headers[name] for name in COMPARED_HEADERS if name in response.headers}
    body: Any = response.content.decode("utf-8", "replace")
    if response.headers.get("content-type", "").startswith("application/json") and response.content:
        body = response.json()
    return Answer(response.status_code, headers, body, response.content)


def _mask(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: ("<timestamp>" if k in TIMESTAMPS and v else _mask(v)) for k, v in body.items()}
    if isinstance(body, list):
        return [_mask(item) for item in body]
    return body
