"""The personas of the kit's tests, as the proxy would sign them."""

import time
from collections.abc import Callable

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from strangler_kit.identity.signing import Identity, sign


def identity_header(user_id: int, username: str, *, staff: bool = False, seconds: int = 30) -> str:
    now = int(time.time())
    identity = Identity(
        user_id=user_id,
        username=username,
        is_staff=staff,
        issued_at=now,
        expires_at=now + seconds,
        audience=settings.STRANGLER_IDENTITY_AUDIENCE,
    )
    return sign(identity, key=settings.STRANGLER_IDENTITY_KEY)


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def as_user() -> Callable[..., APIClient]:
    def make(user_id: int, username: str, *, staff: bool = False) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_X_STRANGLER_IDENTITY=identity_header(user_id, username, staff=staff))
        return client

    return make
