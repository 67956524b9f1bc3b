"""The operator console's ASGI app, mounted on the admin listener at /console (never on the public one).

    GET  /console/login            the login form (the admin token and a name for the audit log)
    POST /console/login            token → a server-side session: HttpOnly, SameSite=Strict cookie (and Secure over
                                   HTTPS), 303 to /console/; 429 after too many wrong tokens (login_limits.py)
    POST /console/logout           ends the session
    GET  /console/ | route | diffs | cutover     the pages (one HTML shell; console.js draws each)
    GET  /console/static/NAME      console.js, console.css (no data in them)
    GET  /console/api/...          the pages' JSON (views.py), polled by the browser for live numbers
    POST /console/api/preview | change           what a route change would do (a dry run) / make it

Every page and API call needs a live session (pages answer 303 to the login form, API calls 401). Every POST also
needs an `Origin` naming this listener (and, when the browser sends it, `Sec-Fetch-Site: same-origin`); the API's
POSTs need the session's CSRF token in `X-CSRF-Token` and a JSON body. The token travels only in the login form's
POST body; nothing secret is put in a URL, and the log line says method, path and status only.

A request counts as HTTPS when the server saw TLS or it says `X-Forwarded-Proto: https` (a TLS-terminating proxy in
front), or always with STRANGLER_CONSOLE_SECURE_COOKIE: then the cookie is `Secure` and an `Origin` of
`https://<Host>` is this listener too. Trusting the header cannot weaken anything: it only makes the cookie stricter
and admits the same host under https, which a page on another site cannot claim.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from http.cookies import SimpleCookie
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs, quote, unquote_plus

from strangler_proxy.compare.mismatch_export import curl_commands, pytest_file
from strangler_proxy.console.handover import HandoverLog
from strangler_proxy.console.login_limits import LoginLimits
from strangler_proxy.console.sessions import Session, Sessions
from strangler_proxy.console.traffic import TrafficHistory
from strangler_proxy.console.views import ConsoleData, unlock_commands
from strangler_proxy.control.admin import AdminApp
from strangler_proxy.control.settings import Settings
from strangler_proxy.http.asgi import Receive, Scope, Send

PREFIX = "/console"
COOKIE = "strangler_console"
PAGES = frozenset({"/", "/route", "/diffs", "/cutover"})
STATIC = {"console.js": "text/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"}
MAX_BODY = 64 * 1024
NAME = re.compile(r"^[\w .@'-]{1,60}$")
SAMPLE_SECONDS = 1.0
LOGIN_ERRORS = {
    "token": "That is not this proxy's admin token.",
    "name": "Give a name (letters, digits, spaces, . @ ' -; at most 60): it goes into the audit log.",
}
TOO_MANY = "Too many wrong tokens from your address: try again in {seconds} s."
SECURITY_HEADERS = [
    (b"cache-control", b"no-store"),
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # no-referrer would make a form POST say `Origin: null`
    (b"x-strangler-admin", b"1"),
]

log = logging.getLogger("strangler_proxy.console")

Answer = tuple[int, bytes, str, list[tuple[bytes, bytes]]]


def attach_console(admin: AdminApp, settings: Settings | None = None) -> Console:
    """Mount the console on `admin` and, when called on the event loop (as `strangler proxy` does), start sampling
    traffic; otherwise sampling starts with the first request."""
    console = Console(admin, secure_cookie=settings.console_secure_cookie if settings is not None else False)
    admin.mount(PREFIX, console)
    admin.observe(console.handovers.observe)
    with contextlib.suppress(RuntimeError):
        console.start()
    return console


class Console:
    def __init__(
        self,
        admin: AdminApp,
        sessions: Sessions | None = None,
        *,
        secure_cookie: bool = False,
        login_limits: LoginLimits | None = None,
    ) -> None:
        self.admin = admin
        self.sessions = sessions or Sessions()
        self.secure_cookie = secure_cookie  # every session cookie is Secure, even on a request that looks plain HTTP
        self.login_limits = login_limits or LoginLimits()
        self.traffic = TrafficHistory(admin.metrics)
        self.handovers = HandoverLog()
        self.data = ConsoleData(admin, self.traffic, self.handovers)
        self._sampler: asyncio.Task[None] | None = None
        self._static = {name: files("strangler_proxy.console").joinpath("static", name).read_bytes() for name in STATIC}
        self._shell = files("strangler_proxy.console").joinpath("static", "console.html").read_bytes()
        self._login = files("strangler_proxy.console").joinpath("static", "login.html").read_bytes()

    def start(self) -> None:
        """Sample the traffic once a second on the running loop (raises RuntimeError without one)."""
        if self._sampler is None:
            self._sampler = asyncio.get_running_loop().create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            try:
                self.traffic.sample()
            except Exception:  # a bad scrape loses one point, never the sampler
                log.exception("console: sampling the metrics failed")
            await asyncio.sleep(SAMPLE_SECONDS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.start()
        started = time.perf_counter()
        method, path = scope["method"], scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            status, body, content_type, extra = await self._respond(scope, receive, method, path, headers)
        except Exception:
            log.exception("console %s %s failed", method, path)
            status, body, content_type, extra = _json(500, {"error": "internal_error", "detail": "see the log"})
        log.info("console %s %s -> %d in %.1f ms", method, path, status, (time.perf_counter() - started) * 1000)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                    *SECURITY_HEADERS,
                    *extra,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _respond(self, scope: Scope, receive: Receive, method: str, path: str, headers: dict[str, str]) -> Answer:
        sub = path[len(PREFIX) :] or "/"
        https = self.secure_cookie or _over_https(scope, headers)
        if sub == "/" and path == PREFIX:
            return _redirect(PREFIX + "/")
        if sub.startswith("/static/") and method == "GET":
            name = sub.removeprefix("/static/")
            if name not in STATIC:
                return _json(404, {"error": "not_found", "detail": f"no console asset {name}"})
            return 200, self._static[name], STATIC[name], []
        if sub == "/login":
            if method == "GET":
                message = LOGIN_ERRORS.get(_query(scope).get("error", ""), "")
                page = self._login.replace(b"<!--error-->", f'<p class="error" id="error">{message}</p>'.encode())
                return 200, page if message else self._login, "text/html; charset=utf-8", []
            if method == "POST":
                return await self._log_in(receive, headers, _client_address(scope), https=https)
            return _json(405, {"error": "method_not_allowed", "detail": "GET or POST"}, [(b"allow", b"GET, POST")])
        session = self.sessions.get(_cookie(headers))
        if sub in PAGES and method == "GET":
            if session is None:
                return _redirect(PREFIX + "/login")
            return 200, self._shell, "text/html; charset=utf-8", []
        if session is None:
            return _json(401, {"error": "unauthorized", "detail": "log in at /console/login (the session ended)"})
        if method == "POST":
            refusal = _cross_site(headers, session, https=https)
            if refusal is not None:
                return _json(403, {"error": "forbidden", "detail": refusal})
            if sub == "/logout":
                self.sessions.end(session.id)
                log.info("console: %s logged out", session.name)
                return _json(200, {"logged_out": True}, [(b"set-cookie", _set_cookie("", 0, secure=https))])
            body = await _read_json(receive, headers)
            if body is None:
                return _json(415, {"error": "unsupported_media_type", "detail": "send a JSON object"})
            if sub == "/api/preview":
                return await self._change(body, session, dry_run=True)
            if sub == "/api/change":
                return await self._change(body, session, dry_run=False)
        elif method == "GET" and sub.startswith("/api/"):
            return await self._api_get(sub, _query(scope), session)
        return _json(404, {"error": "not_found", "detail": f"no console page {sub}"})

    async def _log_in(self, receive: Receive, headers: dict[str, str], address: str, *, https: bool) -> Answer:
        if not _same_origin(headers, https=https):
            return _json(403, {"error": "forbidden", "detail": "a login must come from this console's own page"})
        wait = self.login_limits.retry_after(address)
        if wait:
            # Even the right token is refused now: otherwise the limit would not slow a guesser down at all.
            log.warning("console: a login from %s refused for %d s (too many wrong tokens)", address, wait)
            return self._login_refused(wait)
        form = parse_qs((await _read(receive)).decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0].strip()
        name = (form.get("name") or [""])[0].strip()
        if not self.admin.token_matches(token):
            self.login_limits.failed(address)
            log.warning("console: a login with a wrong token from %s was refused", address)
            return _redirect(PREFIX + "/login?error=token")
        if not NAME.match(name):
            return _redirect(PREFIX + "/login?error=name")
        self.login_limits.succeeded(address)
        session = self.sessions.start(name)
        log.info("console: %s logged in", name)
        cookie = _set_cookie(session.id, int(self.sessions.lifetime), secure=https)
        return _redirect(PREFIX + "/", [(b"set-cookie", cookie)])

    def _login_refused(self, wait: int) -> Answer:
        message = TOO_MANY.format(seconds=wait)
        page = self._login.replace(b"<!--error-->", f'<p class="error" id="error">{message}</p>'.encode())
        return 429, page, "text/html; charset=utf-8", [(b"retry-after", str(wait).encode())]

    async def _api_get(self, sub: str, query: dict[str, str], session: Session) -> Answer:
        if sub == "/api/session":
            remaining = round(self.sessions.remaining(session))
            return _json(200, {"name": session.name, "csrf": session.csrf, "expires_in": remaining})
        if sub == "/api/overview":
            return _json(200, await self.data.overview())
        if sub == "/api/route":
            methods = [m for m in query.get("methods", "").split(",") if m] or None
            found = await self.data.route(query.get("path", ""), methods)
            if found is None:
                return _json(404, {"error": "unknown_route", "detail": "no such route in the table"})
            return _json(200, found)
        if sub == "/api/diffs":
            return _json(200, await self.data.diffs(query.get("route") or None))
        if sub in ("/api/diff", "/api/diff/export"):
            raw = query.get("id", "")
            if not raw.isdigit():
                return _json(422, {"error": "validation_failed", "detail": "id: a mismatch id"})
            status, answer = await self.data.diff(int(raw))
            if status != 200 or sub == "/api/diff":
                return _json(status, answer)
            record = answer["record"]
            if query.get("format") == "curl":
                return 200, curl_commands(record).encode(), "text/plain; charset=utf-8", []
            name = f"test_mismatch_{record['id']}.py"
            disposition = f'attachment; filename="{name}"'.encode()
            text = pytest_file(record).encode()
            return 200, text, "text/x-python; charset=utf-8", [(b"content-disposition", disposition)]
        if sub == "/api/cutover":
            return _json(200, await self.data.cutover())
        return _json(404, {"error": "not_found", "detail": f"no console API {sub}"})

    async def _change(self, body: dict[str, Any], session: Session, *, dry_run: bool) -> Answer:
        """A route change (`fields` for the route at `path`/`methods`) or a rollback (`to_version`), previewed or
        made, with the operator's reason and name in the audit log."""
        expected = body.get("expected_version")
        payload: dict[str, Any] = {"expected_version": expected, "dry_run": dry_run}
        if not dry_run:
            payload.update(reason=str(body.get("reason") or ""), author=f"{session.name} (console)")
        if "to_version" in body:
            payload["to_version"] = body["to_version"]
            status, answer = await self.admin.call("POST", "/rollback", body=payload)
        else:
            fields = body.get("fields")
            if not isinstance(fields, dict) or not set(fields) <= {"stage", "percent", "sticky"}:
                return _json(422, {"error": "validation_failed", "detail": "fields: stage, percent and sticky only"})
            route = {"path": body.get("path"), "methods": body.get("methods")}
            status, answer = await self.admin.call("POST", "/routes", body={**route, **fields, **payload})
        if status == 409 and isinstance(answer, dict) and answer.get("error") == "data_not_ready":
            answer = {**answer, "unlock": unlock_commands(answer)}
        return _json(status, answer)


def _cookie(headers: dict[str, str]) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    with contextlib.suppress(Exception):
        jar.load(headers.get("cookie", ""))
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else None


def _set_cookie(value: str, max_age: int, *, secure: bool) -> bytes:
    attributes = f"Path={PREFIX}; HttpOnly; SameSite=Strict; Max-Age={max_age}" + ("; Secure" if secure else "")
    return f"{COOKIE}={value}; {attributes}".encode()


def _over_https(scope: Scope, headers: dict[str, str]) -> bool:
    forwarded = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return scope.get("scheme") == "https" or forwarded == "https"


def _client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _same_origin(headers: dict[str, str], *, https: bool) -> bool:
    origin = headers.get("origin")
    host = headers.get("host")
    if not origin or not host:
        return False
    if origin != f"http://{host}" and not (https and origin == f"https://{host}"):
        return False
    return headers.get("sec-fetch-site", "same-origin") == "same-origin"


def _cross_site(headers: dict[str, str], session: Session, *, https: bool) -> str | None:
    """Why this POST is refused as possibly cross-site, or None."""
    if not _same_origin(headers, https=https):
        return "the request does not come from this console's own pages (Origin / Sec-Fetch-Site)"
    if not session.csrf_matches(headers.get("x-csrf-token", "")):
        return "the CSRF token is missing or not this session's"
    return None


async def _read(receive: Receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return b""
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _read_json(receive: Receive, headers: dict[str, str]) -> dict[str, Any] | None:
    if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return None
    try:
        data = json.loads(await _read(receive) or b"null")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _query(scope: Scope) -> dict[str, str]:
    raw: bytes = scope.get("query_string", b"")
    out: dict[str, str] = {}
    for pair in raw.decode("latin-1").split("&"):
        key, _, value = pair.partition("=")
        if key:
            out[unquote_plus(key)] = unquote_plus(value)
    return out


def _json(status: int, data: Any, headers: list[tuple[bytes, bytes]] | None = None) -> Answer:
    return status, json.dumps(data, separators=(",", ":")).encode(), "application/json", headers or []


def _redirect(location: str, headers: list[tuple[bytes, bytes]] | None = None) -> Answer:
    return 303, b"", "text/plain", [(b"location", quote(location, safe="/?=&").encode()), *(headers or [])]
