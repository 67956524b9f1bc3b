"""What always differs between two correct answers, removed before comparing.

Headers: `Date`, `Server`, `ETag`, `Set-Cookie` values of CSRF and session cookies, request ids, `Age`, `Via`
and `Content-Length` (the body is compared instead) are never compared; absolute URLs that name one of the hosts
involved (the client's `Host`, the monolith's and the service's address) become origin-free (`/api/x?page=2`), in
headers such as `Location` and in every string of a JSON body. Text bodies also lose the request id and CSRF
tokens embedded in HTML forms before they are hashed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from strangler_proxy.http.headers import Headers

NEVER_COMPARED = frozenset(
    {"date", "server", "etag", "x-request-id", "request-id", "x-correlation-id", "age", "via", "content-length"}
)
NEVER_COMPARED_BYTES = frozenset(n.encode() for n in NEVER_COMPARED)
SECRET_COOKIES = re.compile(r"(?i)\b(csrftoken|sessionid|session|csrf_token|_csrf|xsrf-token)=[^;,\s]*")
CSRF_IN_HTML = re.compile(r"""(?i)(name=["']?csrfmiddlewaretoken["']?\s+value=["'])[^"']*""")
CSRF_IN_HTML_REVERSED = re.compile(r"""(?i)(value=["'])[^"']*(["']\s+name=["']?csrfmiddlewaretoken)""")


class Context:
    """What is particular to one request: the hosts that may appear in absolute URLs, and its request id.

    Built for every comparison but used only when two strings differ, so the hosts are worked out lazily.
    """

    __slots__ = ("_headers", "_hosts", "_upstream_urls", "_url", "request_id")

    def __init__(self, headers: Headers, upstream_urls: tuple[str, ...], request_id: str = "") -> None:
        self._headers = headers
        self._upstream_urls = upstream_urls
        self._hosts: frozenset[str] | None = None
        self.request_id = request_id
        self._url: re.Pattern[str] | bool | None = False

    @property
    def hosts(self) -> frozenset[str]:
        """Netlocs, lower case: "shop.example", "127.0.0.1:8000"."""
        if self._hosts is None:
            hosts = {u.split("://", 1)[-1].rstrip("/").lower() for u in self._upstream_urls if u}
            for name, value in self._headers:
                if name.lower() in (b"host", b"x-forwarded-host"):
                    hosts.update(h.strip().lower() for h in value.decode("latin-1").split(","))
            self._hosts = frozenset(h for h in hosts if h)
        return self._hosts

    def text(self, value: str) -> str:
        if "://" in value:
            url = self._url
            if url is False:
                pattern = "|".join(re.escape(h) for h in sorted(self.hosts, key=len, reverse=True))
                url = self._url = re.compile(rf"(?i)\bhttps?://(?:{pattern})(?=[/?#\"'\s]|$)") if pattern else None
            if isinstance(url, re.Pattern):
                value = url.sub("", value)
        if self.request_id and self.request_id in value:
            value = value.replace(self.request_id, "{request-id}")
        return value


def context_for(request_headers: Headers, *upstream_urls: str, request_id: str = "") -> Context:
    return Context(request_headers, upstream_urls, request_id)


_WANTED: dict[tuple[str, ...], frozenset[bytes]] = {}


def headers_to_compare(headers: Headers, chosen: Sequence[str], ctx: Context) -> dict[str, str]:
    """The chosen headers (lower-case names), normalised; repeated headers joined with ", " in order."""
    key = tuple(chosen)
    wanted = _WANTED.get(key)
    if wanted is None:
        if len(_WANTED) > 1000:
            _WANTED.clear()
        wanted = _WANTED[key] = frozenset(c.lower().encode("latin-1") for c in key) - NEVER_COMPARED_BYTES
    out: dict[str, list[str]] = {}
    for raw_name, raw_value in headers:
        lowered = raw_name.lower()
        if lowered not in wanted:
            continue
        name = lowered.decode("latin-1")
        value = raw_value.decode("latin-1").strip()
        if name == "set-cookie" or name == "cookie":
            value = SECRET_COOKIES.sub(lambda m: f"{m.group(1)}={{secret}}", value)
        elif name == "content-type":
            value = ";".join(part.strip() for part in value.lower().split(";"))
        out.setdefault(name, []).append(ctx.text(value))
    return {name: ", ".join(values) for name, values in out.items()}


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
