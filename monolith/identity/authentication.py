"""Token authentication judged once per request: `CredentialsFirst` judges an API request's credentials before its
view runs, and the view's own authentication then finds that judgement on the request instead of looking the token
up in the database a second time."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.request import Request

_JUDGED = "_strangler_token_judged"


class OncePerRequestTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, remembered on the Django request for the same Authorization header."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = get_authorization_header(request)
        judged = getattr(request._request, _JUDGED, None)
        if judged is not None and judged[0] == header:
            return judged[1]
        result = super().authenticate(request)
        if result is not None:
            setattr(request._request, _JUDGED, (header, result))
        return result
