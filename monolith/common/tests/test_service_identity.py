"""The monolith's own identity is the proxy's format (docs/identity.md §2), checked here from the bytes; that the
catalog service accepts it as staff is checked against the real service (catalog/tests/test_service_client.py)."""

import base64
import hashlib
import hmac
import json
from pathlib import Path

from common.service_identity import sign_identity, sign_service_identity

KEY = "strangler-test-vector-key-0123456789abcdef"


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_it_signs_the_monolith_as_a_staff_principal_no_user_can_be_for_the_catalog_for_thirty_seconds():
    header = sign_service_identity(key=KEY, audience="catalog", now=1764000000.7)

    version, payload, signature = header.split(".")
    assert version == "v2"
    assert unb64(payload) == (
        b'{"aud":"catalog","exp":1764000030,"iat":1764000000,"staff":true,"sub":0,"username":"service:monolith"}'
    )
    expected = hmac.new(KEY.encode(), f"v2.{payload}".encode(), hashlib.sha256).digest()
    assert unb64(signature) == expected
    assert "=" not in header and json.loads(unb64(payload))["sub"] == 0


def test_it_signs_as_the_contract_s_vectors_say():
    """The signer side of docs/identity-vectors.json, for the monolith's principal: same serialisation, same MAC."""
    contract = json.loads((Path(__file__).resolve().parents[3] / "docs" / "identity-vectors.json").read_text("utf-8"))
    basic = contract["signed"][0]
    claims = {**basic["claims"], "sub": 0, "username": "service:monolith"}
    header = sign_service_identity(key=contract["key"], audience=claims["aud"], now=claims["iat"] + 0.5)

    version, payload, signature = header.split(".")
    assert unb64(payload).decode() == json.dumps(claims, separators=(",", ":"), sort_keys=True)
    mac = hmac.new(contract["key"].encode(), f"{version}.{payload}".encode(), hashlib.sha256).digest()
    assert unb64(signature) == mac


def test_it_signs_a_user_with_their_customer_as_the_contract_s_vector_says():
    """The vector "naming the customer": the monolith, relaying a customer's own request through a seam, signs
    byte for byte what the proxy signs for that customer."""
    contract = json.loads((Path(__file__).resolve().parents[3] / "docs" / "identity-vectors.json").read_text("utf-8"))
    [vector] = [vector for vector in contract["signed"] if vector["name"] == "naming the customer"]
    claims = vector["claims"]

    header = sign_identity(
        key=contract["key"],
        audience=claims["aud"],
        user_id=claims["sub"],
        username=claims["username"],
        staff=claims["staff"],
        customer_id=claims["customer"],
        now=claims["iat"] + 0.5,
    )

    assert header == vector["header"]
