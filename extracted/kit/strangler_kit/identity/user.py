"""Who is calling, without a users table: the monolith owns users, the signed identity says which one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceUser:
    id: int
    username: str
    is_staff: bool
    customer_id: int | None = None  # the identity's `customer` claim: who owns what this user writes

    is_authenticated = True
    is_anonymous = False

    @property
    def pk(self) -> int:
        return self.id

    def __str__(self) -> str:
        return self.username


class AnonymousIdentity:
    """DRF's UNAUTHENTICATED_USER: what `request.user` is when no identity came with the request."""

    id = None
    pk = None
    username = ""
    is_staff = False
    is_authenticated = False
    is_anonymous = True

    def __str__(self) -> str:
        return "AnonymousUser"
