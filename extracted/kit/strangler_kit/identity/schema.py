"""How /api/schema/ describes authentication: as clients see it through the proxy, a monolith token."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class SignedIdentityScheme(OpenApiAuthenticationExtension):
    target_class = "strangler_kit.identity.authentication.SignedIdentityAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'A monolith token, "Token <key>" (or its session cookie). The proxy resolves it '
            "against the monolith and passes the service a signed X-Strangler-Identity.",
        }
