"""pytest fixtures for a kit service's tests: the personas, arriving as the proxy would sign them.

    # conftest.py
    pytest_plugins = ["strangler_kit.personas"]

alice and bob are customers, charlie is staff (each with a customer id other than their user id, as in the
monolith, where the two are numbered apart); `client_for(user)` is an API client carrying the identity the proxy
would sign for `user` with the service's key, `anon` one carrying none.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from strangler_kit.identity.signing import Identity, sign
from strangler_kit.identity.user import ServiceUser

IDENTITY_SECONDS = 30  # the proxy's lifetime for an identity (docs/identity.md)


def identity_header(
    user: ServiceUser,
    *,
    issued_at: int | None = None,
    seconds: int = IDENTITY_SECONDS,
    audience: str | None = None,
) -> str:
    """What the proxy sends for `user`: signed with the service's key for `audience` (default: this service's,
    STRANGLER_IDENTITY_AUDIENCE), valid for `seconds` from `issued_at`."""
    issued_at = int(time.time()) if issued_at is None else issued_at
    identity = Identity(
        user_id=user.id,
        username=user.username,
        is_staff=user.is_staff,
        issued_at=issued_at,
        expires_at=issued_at + seconds,
        audience=settings.STRANGLER_IDENTITY_AUDIENCE if audience is None else audience,
        customer_id=user.customer_id,
    )
    return sign(identity, key=settings.STRANGLER_IDENTITY_KEY)


@pytest.fixture
def alice() -> ServiceUser:
    """A customer."""
    return ServiceUser(id=1, username="alice", is_staff=False, customer_id=101)


@pytest.fixture
def bob() -> ServiceUser:
    """Another customer."""
    return ServiceUser(id=2, username="bob", is_staff=False, customer_id=102)


@pytest.fixture
def charlie() -> ServiceUser:
    """Staff."""
    return ServiceUser(id=3, username="charlie", is_staff=True, customer_id=103)


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for() -> Callable[[ServiceUser], APIClient]:
    """An API client that arrives as `user` would through the proxy: with a signed identity."""

    def make(user: ServiceUser) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_X_STRANGLER_IDENTITY=identity_header(user))
        return client

    return make
