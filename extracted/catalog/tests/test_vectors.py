"""The verifier side of docs/identity-vectors.json, the vectors a third party implements the contract from (the
proxy's tests check the signer side of the same file): every signed vector verifies for its audience and signs back
byte for byte, every verified vector is accepted or refused as it says, the v1 vectors hold only while v1 is
accepted, and a request carrying what the proxy forwards is authenticated by the identity alone."""

import base64
import json
from pathlib import Path

import pytest
from rest_framework.test import APIClient
from strangler_kit.identity.signing import Identity, InvalidIdentity, sign, verify
from strangler_kit.identity.user import ServiceUser
from strangler_kit.personas import identity_header
from strangler_kit.testing import assert_error

VECTORS = Path(__file__).resolve().parents[3] / "docs" / "identity-vectors.json"
if not VECTORS.exists():
    pytest.skip(f"{VECTORS} is not part of this checkout", allow_module_level=True)
CONTRACT = json.loads(VECTORS.read_text(encoding="utf-8"))
KEY = CONTRACT["key"]
V1 = CONTRACT["v1"]


def as_identity(claims: dict) -> Identity:
    return Identity(
        user_id=claims["sub"],
        username=claims["username"],
        is_staff=claims["staff"],
        issued_at=claims["iat"],
        expires_at=claims["exp"],
        audience=claims.get("aud", ""),
        customer_id=claims.get("customer"),
    )


def audience_of(vector: dict) -> str:
    return vector.get("audience", CONTRACT["audience"])


@pytest.mark.parametrize("vector", CONTRACT["signed"], ids=lambda vector: vector["name"])
def test_a_signed_vector_verifies_and_signs_back_byte_for_byte(vector):
    verified = verify(vector["header"], key=KEY, now=vector["now"], audience=audience_of(vector))

    assert verified == as_identity(vector["claims"])
    assert sign(verified, key=KEY) == vector["header"]
    payload = vector["header"].split(".")[1]
    assert base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)) == vector["payload"].encode("ascii")


@pytest.mark.parametrize("vector", CONTRACT["verified"], ids=lambda vector: vector["name"])
def test_a_verified_vector_is_accepted_or_refused_as_it_says(vector):
    audience = audience_of(vector)
    if vector["accept"]:
        assert verify(vector["header"], key=KEY, now=vector["now"], audience=audience) == as_identity(
            vector["identity"]
        )
    else:
        with pytest.raises(InvalidIdentity, match=vector["why"]):
            verify(vector["header"], key=KEY, now=vector["now"], audience=audience)


@pytest.mark.parametrize("vector", V1["signed"] + V1["verified"], ids=lambda vector: vector["name"])
def test_the_v1_vectors_hold_while_v1_is_accepted_and_are_refused_otherwise(vector):
    def check():
        return verify(vector["header"], key=KEY, now=vector["now"], audience="catalog", accept_v1=True)

    if vector.get("accept", True):
        assert check() == as_identity(vector.get("identity", vector.get("claims")))
    else:
        with pytest.raises(InvalidIdentity, match=vector["why"]):
            check()
    if len(vector["header"]) <= 4096:
        with pytest.raises(InvalidIdentity, match="version"):
            verify(vector["header"], key=KEY, now=vector["now"], audience="catalog")


def test_the_vectors_cover_every_point_the_contract_leaves_to_them():
    names = {vector["name"] for vector in CONTRACT["signed"] + CONTRACT["verified"]}
    assert {
        "non-ascii username",
        "unescaped UTF-8 payload",
        "longest acceptable header (4095 characters)",
        "header of 4097 characters",
        "lifetime of 0 s",
        "lifetime of 31 s",
        "minted for another audience",
        "no audience",
        "a v1 header",
        "expiry bound is inclusive",
        "past the expiry bound",
        "issue bound is inclusive",
        "issued too far in the future",
        "sub true",
        "naming the customer",
        "a customer at a service that does not need it",
        "customer null",
        "an unknown member",
    } <= names


@pytest.mark.parametrize("received", ["service_receives", "service_receives_when_forwarding"])
def test_what_the_proxy_forwards_is_authenticated_by_the_identity_alone(db, make_category, received):
    """Withheld (the default) or forwarded (a route that opts in), the client's Authorization and Cookie never count
    as credentials here."""
    forwarded = CONTRACT["forwarded"]
    headers = {
        f"HTTP_{name.upper().replace('-', '_')}": value
        for name, value in forwarded[received]
        if name not in {"content-type", "content-length", "host"}
    }
    customer = ServiceUser(id=1, username="alice", is_staff=False)
    staff = ServiceUser(id=3, username="charlie", is_staff=True)
    body = {"name": "Hats", "slug": "hats"}

    as_customer = APIClient().post(
        "/api/catalog/categories/", body, format="json", HTTP_X_STRANGLER_IDENTITY=identity_header(customer), **headers
    )
    as_nobody = APIClient().post("/api/catalog/categories/", body, format="json", **headers)
    as_staff = APIClient().post(
        "/api/catalog/categories/", body, format="json", HTTP_X_STRANGLER_IDENTITY=identity_header(staff), **headers
    )

    assert_error(as_customer, 403, "permission_denied")
    assert_error(as_nobody, 401, "not_authenticated")
    assert as_staff.status_code == 201, as_staff.content
