"""A kit service knows its caller only from the identity the proxy signed: anonymous reads, staff writes, and the
monolith's own 401 for a header that does not verify."""

import time

import pytest
from django.conf import settings

from strangler_kit.identity.authentication import verify_identity
from strangler_kit.identity.signing import Identity, InvalidIdentity, sign
from strangler_kit.testing import assert_error
from tests.conftest import identity_header


def test_without_an_identity_a_client_reads(anon):
    assert anon.get("/api/numbers/").status_code == 200


def test_without_an_identity_a_write_is_the_monoliths_401(anon):
    response = anon.post("/api/numbers/", {"count": 1})

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"


def test_a_customer_is_refused_a_staff_write(as_user):
    assert_error(as_user(1, "alice").post("/api/numbers/", {"count": 1}), 403, "permission_denied")


def test_staff_write_and_the_service_knows_who(as_user):
    response = as_user(3, "charlie", staff=True).post("/api/numbers/", {"count": 2})

    assert response.status_code == 201
    assert response.json() == {"count": 2, "by": "charlie"}


def test_a_forged_identity_is_the_monoliths_invalid_token_on_every_api_path(anon):
    forged = identity_header(3, "charlie", staff=True)[:-2] + "AA"
    anon.credentials(HTTP_X_STRANGLER_IDENTITY=forged)

    for path in ("/api/numbers/", "/api/nothing/"):
        response = anon.get(path)
        assert assert_error(response, 401, "authentication_failed")["message"] == "Invalid token."
        assert response["WWW-Authenticate"] == "Token"


def test_verify_identity_checks_with_the_services_key_and_audience():
    now = int(time.time())
    identity = Identity(
        user_id=7, username="dana", is_staff=False, issued_at=now, expires_at=now + 30, audience="numbers"
    )
    elsewhere = Identity(
        user_id=7, username="dana", is_staff=False, issued_at=now, expires_at=now + 30, audience="catalog"
    )
    with pytest.raises(InvalidIdentity, match="another audience"):
        verify_identity(sign(elsewhere, key=settings.STRANGLER_IDENTITY_KEY))

    assert verify_identity(sign(identity, key=settings.STRANGLER_IDENTITY_KEY)) == identity
    with pytest.raises(InvalidIdentity, match="bad signature"):
        verify_identity(sign(identity, key="another-key-" + "x" * 32))
    with pytest.raises(InvalidIdentity, match="expired"):
        verify_identity(sign(identity, key=settings.STRANGLER_IDENTITY_KEY), now=now + 60)
