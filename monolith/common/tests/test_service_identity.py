"""The monolith's own identity is the proxy's format (docs/identity.md §2), checked here from the bytes; that the
catalog service accepts it as staff is checked against the real service (catalog/tests/test_service_client.py)."""

import base64
import hashlib
import hmac
import json

from common.service_identity import sign_service_identity

KEY = "strangler-test-vector-key-0123456789abcdef"


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_it_signs_the_monolith_as_a_staff_principal_no_user_can_be_for_sixty_seconds():
    header = sign_service_identity(key=KEY, now=1764000000.7)

    version, payload, signature = header.split(".")
    assert version == "v1"
    assert unb64(payload) == b'{"exp":1764000060,"iat":1764000000,"staff":true,"sub":0,"username":"service:monolith"}'
    expected = hmac.new(KEY.encode(), f"v1.{payload}".encode(), hashlib.sha256).digest()
    assert unb64(signature) == expected
    assert "=" not in header and json.loads(unb64(payload))["sub"] == 0
