"""Who is calling: the identity the proxy signed, or nobody. The service has no users, tokens or sessions.

No header is anonymous. A header that does not verify is the monolith's answer to an invalid token (401): to the
client, its token or session was the only credential in play. Why a header was refused is logged, never the header.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from inventory_service.errors import AuthenticationFailed
from inventory_service.identity import HEADER, InvalidIdentity, verify
from inventory_service.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    user_id: int | None
    username: str
    is_staff: bool

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None


ANONYMOUS = Caller(user_id=None, username="", is_staff=False)


def caller_of(headers: Mapping[str, str], *, settings: Settings) -> Caller:
    header = headers.get(HEADER)
    if header is None:
        return ANONYMOUS
    try:
        identity = verify(
            header,
            key=settings.identity_key,
            now=time.time(),
            audience=settings.identity_audience,
            accept_v1=settings.accept_identity_v1,
        )
    except InvalidIdentity as exc:
        logger.warning("refused X-Strangler-Identity: %s", exc)
        raise AuthenticationFailed() from exc
    return Caller(user_id=identity.user_id, username=identity.username, is_staff=identity.is_staff)


def would_read_session(headers: Mapping[str, str]) -> bool:
    """Whether the monolith would have fallen back to its session for this request, which makes its answer carry
    `Vary: Cookie`: its first authentication (DRF's TokenAuthentication) takes only `Authorization: Token …` — sent
    here, or withheld by the proxy, which then says `X-Strangler-Credentials: token`."""
    words = headers.get("authorization", "").split()
    if words and words[0].lower() == "token":
        return False
    withheld = headers.get("x-strangler-credentials", "").lower().split(",")
    return "token" not in (kind.strip() for kind in withheld)
