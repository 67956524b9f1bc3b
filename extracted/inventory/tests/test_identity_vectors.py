"""docs/identity-vectors.json against this service's verifier, written from the contract alone: every signed vector
verifies and signs back byte for byte, every verified vector is accepted or refused as it says (the reasons are
this service's own words)."""

import json
from pathlib import Path

import pytest

from inventory_service.identity import Identity, InvalidIdentity, sign, verify

CONTRACT = json.loads((Path(__file__).resolve().parents[3] / "docs" / "identity-vectors.json").read_text("utf-8"))
KEY = CONTRACT["key"]


def as_identity(claims: dict) -> Identity:
    return Identity(claims["sub"], claims["username"], claims["staff"], claims["iat"], claims["exp"])


@pytest.mark.parametrize("vector", CONTRACT["signed"], ids=lambda vector: vector["name"])
def test_a_signed_vector_verifies_and_signs_back_byte_for_byte(vector):
    verified = verify(vector["header"], key=KEY, now=vector["now"])

    assert verified == as_identity(vector["claims"])
    assert sign(verified, key=KEY) == vector["header"]


@pytest.mark.parametrize("vector", CONTRACT["verified"], ids=lambda vector: vector["name"])
def test_a_verified_vector_is_accepted_or_refused_as_it_says(vector):
    if vector["accept"]:
        assert verify(vector["header"], key=KEY, now=vector["now"]) == as_identity(vector["identity"])
    else:
        with pytest.raises(InvalidIdentity):
            verify(vector["header"], key=KEY, now=vector["now"])
