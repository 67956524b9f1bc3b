"""Secrets never leave the proxy in a stored mismatch or a capture corpus.

Headers that carry credentials (`Authorization`, cookies, API keys, CSRF tokens) keep their name and lose their
value; cookies keep their names. JSON bodies (at any depth), form bodies and query strings lose the values of
fields whose name is a known secret (`password`, `token`, ...) or one the operator configured
(`STRANGLER_REDACT_FIELDS`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from strangler_proxy.http.headers import Headers

REDACTED = "[redacted]"
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-auth-token",
        "x-csrftoken",
        "x-csrf-token",
        "x-xsrf-token",
        "x-strangler-identity",
    }
)
SECRET_FIELDS = frozenset(
    {"password", "passwd", "secret", "token", "access", "refresh", "api_key", "apikey", "csrfmiddlewaretoken"}
)
COOKIE_PAIR = re.compile(r"([^=;,\s]+)=([^;,]*)")


class Redactor:
    def __init__(self, fields: Iterable[str] = (), headers: Iterable[str] = ()) -> None:
        self.fields = SECRET_FIELDS | {f.strip().lower() for f in fields if f.strip()}
        self.headers = SECRET_HEADERS | {h.strip().lower() for h in headers if h.strip()}

    def header_list(self, headers: Headers) -> list[list[str]]:
        out = []
        for raw_name, raw_value in headers:
            name = raw_name.decode("latin-1")
            value = raw_value.decode("latin-1")
            lower = name.lower()
            if lower in ("cookie", "set-cookie"):
                value = COOKIE_PAIR.sub(
                    lambda m: f"{m.group(1)}={REDACTED}", value.split(";")[0] if lower == "set-cookie" else value
                )
            elif lower in self.headers:
                value = REDACTED
            out.append([name, value])
        return out

    def target(self, target: str) -> str:
        path, sep, query = target.partition("?")
        if not sep:
            return target
        pairs = parse_qsl(query, keep_blank_values=True)
        if not any(k.lower() in self.fields for k, _ in pairs):
            return target
        return path + "?" + urlencode([(k, REDACTED if k.lower() in self.fields else v) for k, v in pairs])

    def body(self, body: bytes, content_type: str = "") -> bytes:
        if not body:
            return body
        stripped = body.lstrip()[:1]
        if stripped in (b"{", b"["):
            try:
                data = json.loads(body)
            except ValueError:
                return body
            return json.dumps(self.json(data), ensure_ascii=False).encode()
        if "x-www-form-urlencoded" in content_type.lower():
            pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
            return urlencode([(k, REDACTED if k.lower() in self.fields else v) for k, v in pairs]).encode()
        return body

    def json(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: REDACTED if k.lower() in self.fields else self.json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v) for v in value]
        return value
