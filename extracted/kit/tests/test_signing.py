"""The service verifies exactly the identities the contract in docs/identity.md describes."""

import base64
import hashlib
import hmac
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strangler_kit.identity.signing import Identity, InvalidIdentity, sign, verify

CONTRACT = Path(__file__).resolve().parents[3] / "docs" / "identity.md"
KEY = "a-key-for-these-tests-only-0123456789"
NOW = 1_764_000_000
AUDIENCE = "catalog"


def identity(**overrides):
    fields = {
        "user_id": 7,
        "username": "alice",
        "is_staff": False,
        "issued_at": NOW,
        "expires_at": NOW + 30,
        "audience": AUDIENCE,
    }
    return Identity(**{**fields, **overrides})


def verify_here(header, *, key=KEY, now=NOW, accept_v1=False):
    """As the catalog service verifies: its own audience."""
    return verify(header, key=key, now=now, audience=AUDIENCE, accept_v1=accept_v1)


def signed_v1(claims, key=KEY):
    payload = b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(key.encode(), f"v1.{payload}".encode(), hashlib.sha256).digest()
    return f"v1.{payload}.{b64(mac)}"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_the_shared_test_vector_of_the_contract_verifies_and_signs_the_same():
    if not CONTRACT.exists():
        pytest.skip(f"{CONTRACT} is not part of this checkout")
    text = CONTRACT.read_text()
    key = re.search(r"^key:\s+(\S+)$", text, re.M).group(1)
    payload = json.loads(re.search(r"^payload:\s+(\{.*\})$", text, re.M).group(1))
    header = re.search(r"^header:\s+(\S+)$", text, re.M).group(1)

    verified = verify(header, key=key, now=payload["iat"] + 1, audience=payload["aud"])

    assert verified == Identity(
        user_id=payload["sub"],
        username=payload["username"],
        is_staff=payload["staff"],
        issued_at=payload["iat"],
        expires_at=payload["exp"],
        audience=payload["aud"],
    )
    assert sign(verified, key=key) == header


def test_a_signed_identity_verifies_back_to_itself():
    assert verify_here(sign(identity(), key=KEY), now=NOW + 30) == identity()


def test_a_different_key_is_a_forgery():
    with pytest.raises(InvalidIdentity, match="bad signature"):
        verify_here(sign(identity(), key="another-key-of-at-least-32-characters"))


def test_a_changed_payload_breaks_the_signature():
    version, _, signature = sign(identity(), key=KEY).split(".")
    claims = {"aud": AUDIENCE, "sub": 7, "username": "alice", "staff": True, "iat": NOW, "exp": NOW + 30}
    promoted = b64(json.dumps(claims).encode())

    with pytest.raises(InvalidIdentity, match="bad signature"):
        verify_here(f"{version}.{promoted}.{signature}")


def test_it_refuses_an_expired_identity_past_the_leeway():
    header = sign(identity(), key=KEY)
    assert verify_here(header, now=NOW + 34)
    with pytest.raises(InvalidIdentity, match="expired"):
        verify_here(header, now=NOW + 36)


def test_it_refuses_an_identity_issued_in_the_future():
    with pytest.raises(InvalidIdentity, match="future"):
        verify_here(sign(identity(), key=KEY), now=NOW - 10)


def test_it_refuses_an_identity_that_claims_to_live_too_long():
    assert verify_here(sign(identity(expires_at=NOW + 30), key=KEY))
    with pytest.raises(InvalidIdentity, match="lifetime"):
        verify_here(sign(identity(expires_at=NOW + 31), key=KEY))


def test_it_refuses_an_identity_minted_for_another_service():
    header = sign(identity(audience="inventory"), key=KEY)
    assert verify(header, key=KEY, now=NOW, audience="inventory")
    with pytest.raises(InvalidIdentity, match="another audience"):
        verify_here(header)


def test_v1_is_refused_unless_the_transition_setting_accepts_it():
    claims = {"sub": 7, "username": "alice", "staff": False, "iat": NOW, "exp": NOW + 60}
    header = signed_v1(claims)
    with pytest.raises(InvalidIdentity, match="version"):
        verify_here(header)
    accepted = verify_here(header, accept_v1=True)
    assert (accepted.user_id, accepted.audience) == (7, "")
    with pytest.raises(InvalidIdentity, match="does not hold exactly"):  # a v1 payload never names an audience
        verify_here(signed_v1({**claims, "aud": AUDIENCE}), accept_v1=True)


def test_the_customer_claim_is_optional_and_comes_back_as_signed():
    with_customer = verify_here(sign(identity(customer_id=101), key=KEY))
    without = verify_here(sign(identity(), key=KEY))

    assert (with_customer.user_id, with_customer.customer_id) == (7, 101)
    assert without.customer_id is None
    with pytest.raises(InvalidIdentity, match="does not hold exactly"):  # v1 knew no customer
        verify_here(
            signed_v1({"sub": 7, "username": "a", "staff": False, "iat": NOW, "exp": NOW, "customer": 1}),
            accept_v1=True,
        )


@pytest.mark.parametrize("customer", [None, "101", True, 101.0, [101]])
def test_a_customer_that_is_not_an_integer_is_refused(customer):
    claims = {"aud": AUDIENCE, "sub": 7, "username": "alice", "staff": False, "iat": NOW, "exp": NOW + 30}
    payload = b64(json.dumps({**claims, "customer": customer}).encode())
    mac = hmac.new(KEY.encode(), f"v2.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidIdentity, match="customer is not an integer"):
        verify_here(f"v2.{payload}.{b64(mac)}")


@pytest.mark.parametrize(
    "header",
    [
        "",
        "v2",
        "v2.e30",
        "v2.e30.",
        "v2..",
        "v2.e30.AAAA.extra",
        "not an identity",
        "v2.e30=.AAAA",
        "v2.!!!.AAAA",
        "x" * 5000,
    ],
)
def test_it_refuses_malformed_and_unsigned_headers(header):
    with pytest.raises(InvalidIdentity):
        verify_here(header)


def test_it_refuses_another_version_even_with_a_valid_mac():
    _, payload, _ = sign(identity(), key=KEY).split(".")
    mac = hmac.new(KEY.encode(), f"v3.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidIdentity, match="version"):
        verify_here(f"v3.{payload}.{b64(mac)}")


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": AUDIENCE, "sub": "7", "username": "alice", "staff": False, "iat": NOW, "exp": NOW + 30},
        {"aud": AUDIENCE, "sub": True, "username": "alice", "staff": False, "iat": NOW, "exp": NOW + 30},
        {"aud": AUDIENCE, "sub": 7, "username": "", "staff": False, "iat": NOW, "exp": NOW + 30},
        {"aud": AUDIENCE, "sub": 7, "username": "alice", "staff": "yes", "iat": NOW, "exp": NOW + 30},
        {"aud": AUDIENCE, "sub": 7, "username": "alice", "staff": False, "iat": NOW, "exp": float(NOW + 30)},
        {"aud": AUDIENCE, "sub": 7, "username": "alice", "staff": False, "iat": NOW},
        {"aud": AUDIENCE, "sub": 7, "username": "alice", "staff": False, "iat": NOW, "exp": NOW + 30, "role": "x"},
        {"aud": 1, "sub": 7, "username": "alice", "staff": False, "iat": NOW, "exp": NOW + 30},
        {"sub": 7, "username": "alice", "staff": False, "iat": NOW, "exp": NOW + 30},
        [7, "alice"],
    ],
)
def test_a_correctly_signed_payload_of_the_wrong_shape_is_refused(claims):
    payload = b64(json.dumps(claims).encode())
    mac = hmac.new(KEY.encode(), f"v2.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidIdentity):
        verify_here(f"v2.{payload}.{b64(mac)}")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_no_header_we_did_not_sign_verifies(header):
    with pytest.raises(InvalidIdentity):
        verify_here(header, accept_v1=True)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_change_to_a_signed_header_is_refused(data):
    header = sign(identity(is_staff=True), key=KEY)
    position = data.draw(st.integers(0, len(header) - 1))
    replacement = data.draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."))
    changed = header[:position] + replacement + header[position + 1 :]
    if changed == header:
        return
    with pytest.raises(InvalidIdentity):
        verify_here(changed)


def test_another_spelling_of_the_same_signature_bytes_is_refused():
    header = sign(identity(), key=KEY)
    last = header[-1]
    # The last of 43 characters carries 4 bits of the MAC and 2 padding bits the decoder would ignore.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(last) ^ 1]

    with pytest.raises(InvalidIdentity, match="canonical"):
        verify_here(header[:-1] + twin)
