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


def identity(**overrides):
    fields = {"user_id": 7, "username": "alice", "is_staff": False, "issued_at": NOW, "expires_at": NOW + 60}
    return Identity(**{**fields, **overrides})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_the_shared_test_vector_of_the_contract_verifies_and_signs_the_same():
    if not CONTRACT.exists():
        pytest.skip(f"{CONTRACT} is not part of this checkout")
    text = CONTRACT.read_text()
    key = re.search(r"^key:\s+(\S+)$", text, re.M).group(1)
    payload = json.loads(re.search(r"^payload:\s+(\{.*\})$", text, re.M).group(1))
    header = re.search(r"^header:\s+(\S+)$", text, re.M).group(1)

    verified = verify(header, key=key, now=payload["iat"] + 1)

    assert verified == Identity(
        user_id=payload["sub"],
        username=payload["username"],
        is_staff=payload["staff"],
        issued_at=payload["iat"],
        expires_at=payload["exp"],
    )
    assert sign(verified, key=key) == header


def test_a_signed_identity_verifies_back_to_itself():
    assert verify(sign(identity(), key=KEY), key=KEY, now=NOW + 30) == identity()


def test_a_different_key_is_a_forgery():
    with pytest.raises(InvalidIdentity, match="bad signature"):
        verify(sign(identity(), key="another-key-of-at-least-32-characters"), key=KEY, now=NOW)


def test_a_changed_payload_breaks_the_signature():
    version, _, signature = sign(identity(), key=KEY).split(".")
    promoted = b64(json.dumps({"sub": 7, "username": "alice", "staff": True, "iat": NOW, "exp": NOW + 60}).encode())

    with pytest.raises(InvalidIdentity, match="bad signature"):
        verify(f"{version}.{promoted}.{signature}", key=KEY, now=NOW)


def test_it_refuses_an_expired_identity_past_the_leeway():
    header = sign(identity(), key=KEY)
    assert verify(header, key=KEY, now=NOW + 64)
    with pytest.raises(InvalidIdentity, match="expired"):
        verify(header, key=KEY, now=NOW + 66)


def test_it_refuses_an_identity_issued_in_the_future():
    with pytest.raises(InvalidIdentity, match="future"):
        verify(sign(identity(), key=KEY), key=KEY, now=NOW - 10)


def test_it_refuses_an_identity_that_claims_to_live_too_long():
    with pytest.raises(InvalidIdentity, match="lifetime"):
        verify(sign(identity(expires_at=NOW + 3600), key=KEY), key=KEY, now=NOW)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "v1",
        "v1.e30",
        "v1.e30.",
        "v1..",
        "v1.e30.AAAA.extra",
        "not an identity",
        "v1.e30=.AAAA",
        "v1.!!!.AAAA",
        "x" * 5000,
    ],
)
def test_it_refuses_malformed_and_unsigned_headers(header):
    with pytest.raises(InvalidIdentity):
        verify(header, key=KEY, now=NOW)


def test_it_refuses_another_version_even_with_a_valid_mac():
    _, payload, _ = sign(identity(), key=KEY).split(".")
    mac = hmac.new(KEY.encode(), f"v2.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidIdentity, match="version"):
        verify(f"v2.{payload}.{b64(mac)}", key=KEY, now=NOW)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "7", "username": "alice", "staff": False, "iat": NOW, "exp": NOW + 60},
        {"sub": True, "username": "alice", "staff": False, "iat": NOW, "exp": NOW + 60},
        {"sub": 7, "username": "", "staff": False, "iat": NOW, "exp": NOW + 60},
        {"sub": 7, "username": "alice", "staff": "yes", "iat": NOW, "exp": NOW + 60},
        {"sub": 7, "username": "alice", "staff": False, "iat": NOW, "exp": float(NOW + 60)},
        {"sub": 7, "username": "alice", "staff": False, "iat": NOW},
        {"sub": 7, "username": "alice", "staff": False, "iat": NOW, "exp": NOW + 60, "role": "admin"},
        [7, "alice"],
    ],
)
def test_a_correctly_signed_payload_of_the_wrong_shape_is_refused(claims):
    payload = b64(json.dumps(claims).encode())
    mac = hmac.new(KEY.encode(), f"v1.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidIdentity):
        verify(f"v1.{payload}.{b64(mac)}", key=KEY, now=NOW)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_no_header_we_did_not_sign_verifies(header):
    with pytest.raises(InvalidIdentity):
        verify(header, key=KEY, now=NOW)


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
        verify(changed, key=KEY, now=NOW)


def test_another_spelling_of_the_same_signature_bytes_is_refused():
    header = sign(identity(), key=KEY)
    last = header[-1]
    # The last of 43 characters carries 4 bits of the MAC and 2 padding bits the decoder would ignore.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(last) ^ 1]

    with pytest.raises(InvalidIdentity, match="canonical"):
        verify(header[:-1] + twin, key=KEY, now=NOW)
