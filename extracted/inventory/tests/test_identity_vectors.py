"""docs/identity-vectors.json against this service's verifier, written from the contract alone: every signed vector
verifies and signs back byte for byte, every verified vector is accepted or refused as it says (the reasons are
this service's own words)."""

import json
from pathlib import Path

import pytest

from inventory_service.identity import Identity, InvalidIdentity, sign, verify

CONTRACT = json.loads((Path(__file__).resolve().parents[3] / "docs" / "identity-vectors.json").read_text("utf-8"))
KEY = CONTRACT["key"]
V1 = CONTRACT["v1"]


def as_identity(claims: dict) -> Identity:
    return Identity(
        claims["sub"],
        claims["username"],
        claims["staff"],
        claims["iat"],
        claims["exp"],
        claims.get("aud", ""),
        claims.get("customer"),
    )


def audience_of(vector: dict) -> str:
    return vector.get("audience", CONTRACT["audience"])


@pytest.mark.parametrize("vector", CONTRACT["signed"], ids=lambda vector: vector["name"])
def test_a_signed_vector_verifies_and_signs_back_byte_for_byte(vector):
    verified = verify(vector["header"], key=KEY, now=vector["now"], audience=audience_of(vector))

    assert verified == as_identity(vector["claims"])
    assert sign(verified, key=KEY) == vector["header"]


@pytest.mark.parametrize("vector", CONTRACT["verified"], ids=lambda vector: vector["name"])
def test_a_verified_vector_is_accepted_or_refused_as_it_says(vector):
    audience = audience_of(vector)
    if vector["accept"]:
        assert verify(vector["header"], key=KEY, now=vector["now"], audience=audience) == as_identity(
            vector["identity"]
        )
    else:
        with pytest.raises(InvalidIdentity):
            verify(vector["header"], key=KEY, now=vector["now"], audience=audience)


@pytest.mark.parametrize("vector", V1["signed"] + V1["verified"], ids=lambda vector: vector["name"])
def test_the_v1_vectors_hold_only_while_v1_is_accepted(vector):
    def check(accept_v1: bool) -> Identity:
        return verify(vector["header"], key=KEY, now=vector["now"], audience="inventory", accept_v1=accept_v1)

    if vector.get("accept", True):
        assert check(True) == as_identity(vector.get("identity", vector.get("claims")))
    else:
        with pytest.raises(InvalidIdentity):
            check(True)
    with pytest.raises(InvalidIdentity):
        check(False)
