"""The signer side of docs/identity-vectors.json (the catalog service's tests check the verifier side): the proxy
signs each signed vector byte for byte, and forwards to a service exactly the headers the forwarded vector says."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from strangler_proxy.dataplane.forwarding import upstream_request_headers
from strangler_proxy.dataplane.identity import IdentitySigner, User, with_identity
from strangler_proxy.http.client import request_head

CONTRACT: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[3] / "docs" / "identity-vectors.json").read_text(encoding="utf-8")
)
KEY = CONTRACT["key"]


@pytest.mark.parametrize("vector", CONTRACT["signed"], ids=lambda vector: vector["name"])
def test_the_signer_writes_each_signed_vector_byte_for_byte(vector):
    claims = vector["claims"]
    signer = IdentitySigner(KEY, lifetime=claims["exp"] - claims["iat"], clock=lambda: claims["iat"] + 0.5)

    header = signer.sign(
        User(id=claims["sub"], username=claims["username"], is_staff=claims["staff"], customer=claims.get("customer")),
        audience=claims["aud"],
    )

    assert header.decode("ascii") == vector["header"]
    payload = header.split(b".")[1]
    assert base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)).decode("ascii") == vector["payload"]


@pytest.mark.parametrize(
    ("receives", "forward_credentials"),
    [("service_receives", False), ("service_receives_when_forwarding", True)],
)
def test_a_service_receives_what_the_forwarded_vector_says(receives, forward_credentials):
    forwarded = CONTRACT["forwarded"]
    client = [(name.encode(), value.encode()) for name, value in forwarded["client"]]
    user = forwarded["user"]

    out, _ = upstream_request_headers(
        client, peer=forwarded["peer"], scheme=forwarded["scheme"], trusted=(), via_name=forwarded["via_name"]
    )
    headers = with_identity(
        out,
        IdentitySigner(KEY),
        User(user["sub"], user["username"], user["staff"]),
        audience=forwarded["audience"],
        forward_credentials=forward_credentials,
    )
    # What goes on the wire: the upstream client frames the body the proxy forwards (the vector's, 2 bytes) itself.
    head = request_head("POST", b"/api/catalog/products/", headers, b"catalog.internal", 2, False)
    received = [(n, v) for n, _, v in (line.partition(b": ") for line in head.split(b"\r\n")[1:] if line)]

    names = [name.decode() for name, _ in received]
    # The order of the fields is not part of the contract.
    assert sorted((n.decode(), v.decode()) for n, v in received if n != b"x-strangler-identity") == sorted(
        tuple(pair) for pair in forwarded[receives]
    )
    assert names.count(forwarded["plus"]) == 1
    never = set(forwarded["service_never_receives"]) - ({"authorization", "cookie"} if forward_credentials else set())
    assert not never & set(names)
    identity = dict(received)[b"x-strangler-identity"]
    payload = identity.split(b".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
    assert identity.startswith(b"v2.") and claims["aud"] == forwarded["audience"]
    signed, _, mac = identity.rpartition(b".")
    expected = base64.urlsafe_b64encode(hmac.new(KEY.encode(), signed, hashlib.sha256).digest()).rstrip(b"=")
    assert mac == expected
