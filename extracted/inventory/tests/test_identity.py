"""The service verifies exactly the identities docs/identity.md describes, and answers as the monolith would."""

import base64
import hashlib
import hmac
import json
import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import PERSONAS, assert_error, signed
from inventory_service.identity import Identity, InvalidIdentity, sign, verify

CONTRACT = Path(__file__).resolve().parents[3] / "docs" / "identity.md"
KEY = "a-key-for-these-tests-only-0123456789"
NOW = 1_764_000_000
AUDIENCE = "inventory"


def identity(**changes):
    fields = {"user_id": 7, "username": "alice", "is_staff": False, "issued_at": NOW, "expires_at": NOW + 30}
    return Identity(**{**fields, "audience": AUDIENCE, **changes})


def verify_here(header: str, *, key: str = KEY, now: float = NOW, accept_v1: bool = False) -> Identity:
    return verify(header, key=key, now=now, audience=AUDIENCE, accept_v1=accept_v1)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mac_signed(payload: str, version: str = "v2", key: str = KEY) -> str:
    mac = hmac.new(key.encode(), f"{version}.{payload}".encode(), hashlib.sha256).digest()
    return f"{version}.{payload}.{b64(mac)}"


def test_the_contracts_test_vector_verifies_and_signs_back_the_same():
    text = CONTRACT.read_text()
    key = re.search(r"^key:\s+(\S+)$", text, re.M).group(1)
    payload = json.loads(re.search(r"^payload:\s+(\{.*\})$", text, re.M).group(1))
    header = re.search(r"^header:\s+(\S+)$", text, re.M).group(1)

    verified = verify(header, key=key, now=payload["iat"] + 1, audience=payload["aud"])

    assert verified == Identity(
        payload["sub"], payload["username"], payload["staff"], payload["iat"], payload["exp"], payload["aud"]
    )
    assert sign(verified, key=key) == header


def test_the_leeway_is_five_seconds_on_both_ends():
    header = sign(identity(), key=KEY)
    assert verify_here(header, now=NOW + 35)
    assert verify_here(header, now=NOW - 5)
    with pytest.raises(InvalidIdentity, match="expired"):
        verify_here(header, now=NOW + 36)
    with pytest.raises(InvalidIdentity, match="future"):
        verify_here(header, now=NOW - 6)


@pytest.mark.parametrize("lifetime", [31, -1])
def test_a_lifetime_over_30_seconds_or_negative_is_refused(lifetime):
    with pytest.raises(InvalidIdentity, match="lifetime"):
        verify_here(sign(identity(expires_at=NOW + lifetime), key=KEY))


def test_an_identity_minted_for_another_service_is_refused():
    header = sign(identity(audience="catalog"), key=KEY)
    assert verify(header, key=KEY, now=NOW, audience="catalog")
    with pytest.raises(InvalidIdentity, match="another audience"):
        verify_here(header)


def test_v1_is_refused_unless_the_transition_setting_accepts_it():
    claims = {"sub": 7, "username": "alice", "staff": False, "iat": NOW, "exp": NOW + 300}
    header = mac_signed(b64(json.dumps(claims).encode()), version="v1")
    with pytest.raises(InvalidIdentity, match="version"):
        verify_here(header)
    assert verify_here(header, accept_v1=True).user_id == 7


@pytest.mark.parametrize(
    "header",
    ["", "v2", "v2.e30", "v2.e30.", "v2..", "v2.e30.AAAA.x", "v3.e30.AAAA", "v2.e30=.AAAA", "v2.!!.AAAA", "x" * 4097],
)
def test_malformed_unsigned_and_other_versions_are_refused(header):
    with pytest.raises(InvalidIdentity):
        verify_here(header)


def test_another_version_is_refused_even_with_a_valid_mac():
    payload = sign(identity(), key=KEY).split(".")[1]
    with pytest.raises(InvalidIdentity, match="version"):
        verify_here(mac_signed(payload, version="v3"))


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": AUDIENCE, "sub": "7", "username": "alice", "staff": False, "iat": NOW, "exp": NOW + 30},
        {"aud": AUDIENCE, "sub": True, "username": "alice", "staff": False, "iat": NOW, "exp": NOW + 30},
        {"aud": AUDIENCE, "sub": 7, "username": "", "staff": False, "iat": NOW, "exp": NOW + 30},
        {"aud": AUDIENCE, "sub": 7, "username": "alice", "staff": 1, "iat": NOW, "exp": NOW + 30},
        {"aud": AUDIENCE, "sub": 7, "username": "alice", "staff": False, "iat": NOW, "exp": float(NOW + 30)},
        {"aud": AUDIENCE, "sub": 7, "username": "alice", "staff": False, "iat": NOW},
        {"aud": AUDIENCE, "sub": 7, "username": "alice", "staff": False, "iat": NOW, "exp": NOW + 30, "x": 1},
        {"aud": "", "sub": 7, "username": "alice", "staff": False, "iat": NOW, "exp": NOW + 30},
        {"sub": 7, "username": "alice", "staff": False, "iat": NOW, "exp": NOW + 30},
        [7],
    ],
)
def test_a_well_signed_payload_of_the_wrong_shape_is_refused(claims):
    with pytest.raises(InvalidIdentity):
        verify_here(mac_signed(b64(json.dumps(claims).encode())))


def test_a_non_canonical_spelling_of_the_signature_is_refused():
    header = sign(identity(), key=KEY)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(header[-1]) ^ 1]  # the last character's two unused bits
    with pytest.raises(InvalidIdentity, match="canonical"):
        verify_here(header[:-1] + twin)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_one_character_change_is_refused(data):
    header = sign(identity(is_staff=True), key=KEY)
    at = data.draw(st.integers(0, len(header) - 1))
    changed = header[:at] + data.draw(st.sampled_from("AQgw09-_.x")) + header[at + 1 :]
    if changed != header:
        with pytest.raises(InvalidIdentity):
            verify_here(changed)


def test_over_http_a_forged_identity_is_the_monolith_s_invalid_token_answer(client_for):
    forged = client_for(None, **{"X-Strangler-Identity": signed(PERSONAS["charlie"], key="not-the-key-" * 4)})

    response = forged.get("/api/inventory/availability/101/")

    error = assert_error(response, 401, "authentication_failed")
    assert error["message"] == "Invalid token."
    assert response.headers["www-authenticate"] == "Token"


def test_over_http_an_identity_minted_for_the_catalog_is_refused(client_for):
    replayed = client_for(None, **{"X-Strangler-Identity": signed(PERSONAS["charlie"], audience="catalog")})
    assert_error(replayed.get("/api/inventory/stock/"), 401, "authentication_failed")


def test_over_http_an_expired_identity_is_refused_and_no_identity_is_anonymous(client_for):
    stale = client_for(None, **{"X-Strangler-Identity": signed(PERSONAS["charlie"], issued_at=int(time.time()) - 120)})
    assert_error(stale.get("/api/inventory/warehouses/"), 401, "authentication_failed")

    anonymous = client_for(None)
    assert_error(anonymous.get("/api/inventory/warehouses/"), 401, "not_authenticated")
    assert anonymous.get("/api/inventory/availability/101/").status_code == 200


def test_over_http_a_customer_is_refused_and_staff_admitted(client_for):
    assert_error(client_for("alice").get("/api/inventory/stock/"), 403, "permission_denied")
    assert client_for("charlie").get("/api/inventory/stock/").status_code == 200
