"""What always differs between two correct answers, removed before comparing.

Headers: `Date`, `Server`, `ETag`, `Set-Cookie` values of CSRF and session cookies, request ids, `Age`, `Via`
and `Content-Length` (the body is compared instead) are never compared; absolute URLs that name one of the hosts
involved (the client's `Host`, the monolith's and the service's address) become origin-free (`/api/x?page=2`), in
headers such as `Location` and in every string of a JSON body. Text bodies also lose the request id and CSRF
tokens embedded in HTML forms before they are hashed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .headers import Headers

NEVER_COMPARED = frozenset(
    {"date", "server", "etag", "x-request-id", "request-id", "x-correlation-id", "age", "via", "content-length"}
)
SECRET_COOKIES = re.compile(r"(?i)\b(csrftoken|sessionid|session|csrf_token|_csrf|xsrf-token)=[^;,\s]*")
CSRF_IN_HTML = re.compile(r"""(?i)(name=["']?csrfmiddlewaretoken["']?\s+value=["'])[^"']*""")
CSRF_IN_HTML_REVERSED = re.compile(r"""(?i)(value=["'])[^"']*(["']\s+name=["']?csrfmiddlewaretoken)""")


class Context:
    """What is particular to one request: the hosts that may appear in absolute URLs, and its request id."""

    __slots__ = ("_url", "hosts", "request_id")

    def __init__(self, hosts: frozenset[str], request_id: str = "") -> None:
        self.hosts = hosts  # netlocs, lower case: "shop.example", "127.0.0.1:8000"
        self.request_id = request_id
        pattern = "|".join(re.escape(h) for h in sorted(hosts, key=len, reverse=True) if h)
        self._url = re.compile(rf"(?i)\bhttps?://(?:{pattern})(?=[/?#\"'\s]|$)") if pattern else None

    def text(self, value: str) -> str:
        if self._url is not None and "://" in value:
            value = self._url.sub("", value)
        if self.request_id and self.request_id in value:
            value = value.replace(self.request_id, "{request-id}")
        return value


def context_for(request_headers: Headers, *upstream_urls: str, request_id: str = "") -> Context:
    hosts = {u.split("://", 1)[-1].rstrip("/").lower() for u in upstream_urls if u}
    for name, value in request_headers:
        if name.lower() in (b"host", b"x-forwarded-host"):
            hosts.update(h.strip().lower() for h in value.decode("latin-1").split(","))
    return Context(frozenset(h for h in hosts if h), request_id)


def headers_to_compare(headers: Headers, chosen: Iterable[str], ctx: Context) -> dict[str, str]:
    """The chosen headers (lower-case names), normalised; repeated headers joined with ", " in order."""
    wanted = {c.lower() for c in chosen} - NEVER_COMPARED
    out: dict[str, list[str]] = {}
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        if name not in wanted:
            continue
        value = raw_value.decode("latin-1").strip()
        if name == "set-cookie" or name == "cookie":
            value = SECRET_COOKIES.sub(lambda m: f"{m.group(1)}={{secret}}", value)
        elif name == "content-type":
            value = ";".join(part.strip() for part in value.lower().split(";"))
        out.setdefault(name, []).append(ctx.text(value))
    return {name: ", ".join(values) for name, values in out.items()}


def json_value(value: Any, ctx: Context) -> Any:
    """A JSON document with every string normalised (keys are left alone)."""
    if isinstance(value, str):
        return ctx.text(value)
    if isinstance(value, list):
        return [json_value(v, ctx) for v in value]
    if isinstance(value, dict):
        return {k: json_value(v, ctx) for k, v in value.items()}
    return value


def text_body(body: bytes, ctx: Context) -> bytes:
    """A non-JSON body with hosts, the request id and CSRF form tokens taken out (before it is hashed)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    text = ctx.text(text)
    text = CSRF_IN_HTML.sub(r"\1{csrf}", text)
    text = CSRF_IN_HTML_REVERSED.sub(r"\1{csrf}\2", text)
    return text.encode("utf-8")
