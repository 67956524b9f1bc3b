"""Who the customer is: the monolith owns customers, the signed identity says which one is calling.

The identity's `customer` claim (docs/identity.md) is the customer id this service stores on a review
(`customer_id`); `sub` is the user id, another number. This is the one place that reads it, so a contract that
names the customer differently changes this function only.
"""

from __future__ import annotations

from rest_framework.exceptions import PermissionDenied
from strangler_kit.identity.user import ServiceUser

NO_CUSTOMER = (
    "Your identity names no customer, so you cannot own a review here: the proxy or the monolith that signed it "
    "predates the customer claim."
)


def customer_id_for(user: ServiceUser) -> int:
    """The signed-in user's customer id; 403 when the identity names none (a signer older than the claim: the
    monolith names a customer for every signed-in user, making the profile on first use)."""
    if user.customer_id is None:
        raise PermissionDenied(NO_CUSTOMER)
    return user.customer_id
