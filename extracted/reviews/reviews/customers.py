"""Who the customer is: the monolith owns customers, the signed identity says which one is calling.

The identity's `sub` is the customer id this service stores on a review (`customer_id`). This is the one place
that reads it, so a contract that names the customer differently changes this function only.
"""

from __future__ import annotations

from strangler_kit.identity.user import ServiceUser


def customer_id_for(user: ServiceUser) -> int:
    return user.id
