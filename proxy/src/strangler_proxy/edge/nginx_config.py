"""The route table as an nginx configuration, with the proxy's semantics where nginx can express them.

    text = render_nginx(table, NginxOptions(listen=("127.0.0.1:8080",), comparator_url="http://127.0.0.1:8090"))
    text = render_nginx(table, options, standalone=True)   # a whole nginx.conf, for `nginx -p DIR -c FILE`

Without `standalone` the text belongs in nginx's `http {}` block (upstreams, maps, split_clients, one server).
Every decision is a `map` keyed on the request, so one `location /` serves every route:

* route: `map "$request_method:$uri" $strangler_route` holds one regular expression per route, in the proxy's
  precedence (longest segment prefix, then more literal segments, then the earlier rule): nginx tries a map's
  regular expressions in order and the first match wins, exactly like `routing.Router`. A segment prefix ends in
  `(?:/|$)`, so `/api/catalog` never matches `/api/catalogue`; `{param}` is one non-empty segment; a route's
  methods are part of the expression (HEAD counts as GET), so a request a method rule does not take falls through
  to the next rule, as in the proxy.
* stage: `map "$strangler_route:$strangler_safe" $strangler_upstream` (see `app.py`'s table).
* canary: `split_clients "<service>|<sticky key>" { P% service; * monolith; }`. nginx hashes the key with
  MurmurHash2 (`nginx_hash`) and takes the service when the hash is below P% of 2^32-1: the cut only grows with P,
  so raising the share keeps every client already in (monotonic), and the salt makes a client's cohort one per
  service, as in `cohort.py`. The sticky key is the proxy's (`cookie:V`, `header:V`, else `client:ADDR`), but the
  hash is not `cohort.py`'s blake2b: a given client may be in on one data plane and out on the other.
* read-your-writes: a write on an off/shadow/canary route answers with a `strangler_pin_<service>` cookie that
  lives `pin_seconds`; a canary read carrying it goes to the monolith. Clients without a cookie jar are not pinned.
* shadow: safe requests `mirror`ed to Strangler's comparator (`comparator_url`: a `strangler proxy` with
  `STRANGLER_MIRROR_LISTEN`), which asks the monolith and the service itself and compares
  (`compare/mirror_intake.py`); `mirror_unsafe` is not exported (the comparator would write to the monolith twice).
* writes under a data owner: on a route that declares `data`, unsafe requests go to `writes_via_url`, a Strangler
  replica, which sends them to the data's owner and holds them during a cutover (nginx cannot hold a request).
* fallback: a safe request on a canary or live route whose service fails before answering (nginx's own 502 or
  504) is sent to the monolith, as the proxy does; other failures answer the proxy's JSON error shape.
* headers: `X-Forwarded-For/-Proto/-Host` replaced by what nginx saw, `Via` appended, `X-Request-Id` kept when
  valid else nginx's `$request_id` (and on every answer), the proxy's control headers and the client's credentials
  to a service (unless `forward_credentials`) removed; a path with an encoded slash, backslash or control byte is
  refused with 400, as the proxy does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes, urlsplit

from strangler_proxy.dataplane.model import SAFE_METHODS, Route, RouteTable, Stage, StickyKey
from strangler_proxy.dataplane.routing import compile_route_path
from strangler_proxy.errors import ExportRefused

WRITES = "strangler_writes"
COMPARATOR = "strangler_comparator"
VIA = "1.1 strangler-nginx"
CONTROL_HEADERS = (
    "X-Strangler-Identity",
    "X-Strangler-Shadow",
    "X-Strangler-Credentials",
    "X-Strangler-Upstream",
    "X-Strangler-Admin",
)
_METHOD = re.compile(r"[A-Z][A-Z0-9_-]*")
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]+")
_COOKIE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_BAD_PATH = r"~^[^?]*%(?:2[fF]|5[cC]|[01][0-9a-fA-F]|7[fF])"


@dataclass(frozen=True, slots=True)
class NginxOptions:
    listen: tuple[str, ...] = ("127.0.0.1:8080",)
    comparator_url: str | None = None  # a Strangler mirror listener: shadow routes need one
    writes_via_url: str | None = None  # a Strangler replica: routes that declare `data` need one
    access_log: str | None = None  # JSON lines naming the route and upstream of each request; None: off
    keepalive: int = 32  # idle connections kept per upstream
    status_listen: str | None = None  # a listener answering GET /strangler/version with the table's version
    # standalone only: the paths are relative to nginx's prefix (`-p DIR`)
    worker_processes: str = "auto"
    user: str | None = None


def render_nginx(table: RouteTable, options: NginxOptions, *, standalone: bool = False) -> str:
    """The configuration for `table`; raise `ExportRefused` when a route needs an option that is missing or uses
    what nginx cannot express."""
    http = _Renderer(table, options).render()
    return _wrap(http, options) if standalone else http


def nginx_hash(key: bytes) -> int:
    """nginx's `ngx_murmur_hash2` (seed 0), the hash `split_clients` cuts."""
    m = 0x5BD1E995
    mask = 0xFFFFFFFF
    n = len(key)
    h = n & mask
    i = 0
    while n - i >= 4:
        k = int.from_bytes(key[i : i + 4], "little")
        k = (k * m) & mask
        k ^= k >> 24
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
        i += 4
    rest = n - i
    if rest == 3:
        h ^= key[i + 2] << 16
    if rest >= 2:
        h ^= key[i + 1] << 8
    if rest >= 1:
        h ^= key[i]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h


def in_nginx_canary(service: str, sticky_key: str, percent: int) -> bool:
    """Whether the exported configuration sends this client to `service` at `percent` (the key as `cohort.py`
    builds it: `cookie:V`, `header:V` or `client:ADDR`)."""
    if percent <= 0:
        return False
    if percent >= 100:
        return True
    cut = (percent * 100 * 0xFFFFFFFF) // 10_000  # split_clients: percent in hundredths, of 2^32-1
    return nginx_hash(f"{service}|{sticky_key}".encode()) < cut


def upstream_block(name: str) -> str:
    return "strangler_u_" + re.sub(r"[^a-z0-9_]", "_", name)


def _server_address(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.netloc or parts.path not in ("", "/"):
        raise ExportRefused(f"{what} {url!r}: nginx export supports http://host:port upstreams only")
    netloc = parts.netloc
    return netloc if parts.port is not None else f"{netloc}:80"


def _regex_literal(segment: str) -> str:
    # nginx matches the decoded, normalised $uri: decode the canonical segment, and write every byte that is not a
    # letter, digit, '-' or '_' as \xHH (no quoting, variable or regex character can then leak into the config).
    return "".join(
        chr(b) if chr(b).isascii() and (chr(b).isalnum() or chr(b) in "-_") else f"\\x{b:02x}"
        for b in unquote_to_bytes(segment)
    )


def route_pattern(route: Route) -> str:
    """The `$request_method:$uri` regular expression of a route."""
    if route.methods is None:
        methods = "[^:]+"
    else:
        names = set(route.methods) | ({"HEAD"} if "GET" in route.methods else set())
        for method in names:
            if not _METHOD.fullmatch(method):
                raise ExportRefused(f"route {route.path}: method {method!r} cannot be written in nginx's map")
        methods = "(?:" + "|".join(sorted(names)) + ")"
    segments = compile_route_path(route.path)
    path = "".join("/[^/]+" if s is None else "/" + _regex_literal(s) for s in segments)
    return f"~^{methods}:{path}(?:/|$)" if segments else f"~^{methods}:/"


def _precedence(table: RouteTable) -> list[Route]:
    ranked = []
    for index, route in enumerate(table.routes):
        segments = compile_route_path(route.path)
        literal = sum(1 for s in segments if s is not None)
        ranked.append(((-len(segments), -literal, index), route))
    return [route for _, route in sorted(ranked, key=lambda r: r[0])]


def _q(text: str) -> str:
    if '"' in text or "\\" in text.replace("\\x", ""):
        raise ExportRefused(f"{text!r} cannot be quoted in an nginx configuration")
    return f'"{text}"'


def _ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


class _Renderer:
    def __init__(self, table: RouteTable, options: NginxOptions) -> None:
        self.table = table
        self.options = options
        self.lines: list[str] = []
        self.default = upstream_block(table.default_upstream)
        self.routes = _precedence(table)
        self.ids = {id(route): f"r{n}" for n, route in enumerate(self.routes)}

    def emit(self, *lines: str) -> None:
        self.lines.extend(lines)

    def render(self) -> str:
        self._check()
        self.emit(f"# Strangler route table version {self.table.version}, rendered by `strangler routes export`.")
        self._upstreams()
        self._route_map()
        self._decisions()
        self._headers_maps()
        self._server()
        return "\n".join(self.lines) + "\n"

    def _check(self) -> None:
        for route in self.table.routes:
            if route.data is not None and self.options.writes_via_url is None:
                raise ExportRefused(
                    f"route {route.path} declares data {route.data!r}: its writes must go to the data's owner and "
                    f"wait out a cutover's write hold, which nginx cannot do; pass --writes-via URL (a Strangler "
                    f"replica) to send its unsafe requests there"
                )
            if self._mirrors(route) and self.options.comparator_url is None:
                raise ExportRefused(
                    f"route {route.path} is in shadow: pass --comparator URL (a `strangler proxy` with "
                    f"STRANGLER_MIRROR_LISTEN) for nginx to mirror its requests to"
                )

    def _mirrors(self, route: Route) -> bool:
        return route.stage is Stage.SHADOW and route.service != self.table.default_upstream

    # --- upstreams -----------------------------------------------------------------------------------------------

    def _upstreams(self) -> None:
        blocks: dict[str, str] = {}
        for name, upstream in sorted(self.table.upstreams.items()):
            block = upstream_block(name)
            if block in blocks:
                raise ExportRefused(f"upstreams {blocks[block]!r} and {name!r} have the same nginx name {block}")
            blocks[block] = name
            self._upstream(block, _server_address(upstream.url, f"upstream {name}"))
        if self.options.writes_via_url:
            self._upstream(WRITES, _server_address(self.options.writes_via_url, "--writes-via"))
        if self.options.comparator_url:
            self._upstream(COMPARATOR, _server_address(self.options.comparator_url, "--comparator"))

    def _upstream(self, block: str, address: str) -> None:
        self.emit(f"upstream {block} {{ server {address}; keepalive {self.options.keepalive}; }}")

    # --- which route ---------------------------------------------------------------------------------------------

    def _route_map(self) -> None:
        self.emit("", "# Which route: the proxy's precedence, first match wins (routing.Router).")
        self.emit('map "$request_method:$uri" $strangler_route {', '    default "";')
        for route in self.routes:
            self.emit(f"    {_q(route_pattern(route))} {self.ids[id(route)]};  # {route.path}")
        self.emit("}")
        self.emit(
            "map $request_method $strangler_safe {",
            *[f"    {m} 1;" for m in sorted(SAFE_METHODS)],
            "    default 0;",
            "}",
        )

    # --- stages --------------------------------------------------------------------------------------------------

    def _decisions(self) -> None:
        upstream: list[tuple[str, str]] = []
        mirror: list[tuple[str, str]] = []
        pin_cookie: list[tuple[str, str]] = []
        for route in self.routes:
            rid = self.ids[id(route)]
            service = upstream_block(route.service)
            upstream.append((f"{rid}:1", self._read_target(route, rid, service)))
            upstream.append((f"{rid}:0", self._write_target(route)))
            if self._mirrors(route):  # safe requests only: the comparator asks the monolith again (no writes twice)
                mirror.append((f"{rid}:1", route.service))
            if route.stage is not Stage.LIVE and route.pin_seconds > 0 and route.service != self.table.default_upstream:
                cookie = f"{_pin_cookie(route.service)}=1; Max-Age={math.ceil(route.pin_seconds)}; Path=/; HttpOnly"
                pin_cookie.append((f"{rid}:0", cookie))
        self.emit("", "# Which upstream, by route and method safety (app.py's table of stages).")
        self._map('"$strangler_route:$strangler_safe"', "$strangler_upstream", upstream, self.default)
        self._map('"$strangler_route:$strangler_safe"', "$strangler_mirror", mirror, '""')
        self._map('"$strangler_route:$strangler_safe"', "$strangler_pin_cookie", pin_cookie, '""')
        labels = [(upstream_block(name), name) for name in sorted(self.table.upstreams)]
        if self.options.writes_via_url:
            labels.append((WRITES, "strangler"))
        self._map("$strangler_upstream", "$strangler_upstream_name", labels, '""')
        shown = [(self.ids[id(r)], "$strangler_upstream_name") for r in self.routes if r.upstream_header]
        self._map("$strangler_route", "$strangler_upstream_shown", shown, '""')
        strip = [
            (f"{upstream_block(r.service)}:{self.ids[id(r)]}", "1")
            for r in self.routes
            if not r.forward_credentials and r.service != self.table.default_upstream
        ]
        self._map('"$strangler_upstream:$strangler_route"', "$strangler_strip_credentials", strip, "0")
        # a safe request the service fails before answering goes to the monolith (canary and live), as in the proxy
        fallback = [
            (f"{self.ids[id(r)]}:1:{upstream_block(r.service)}", self.default)
            for r in self.routes
            if r.stage in (Stage.CANARY, Stage.LIVE) and r.service != self.table.default_upstream
        ]
        self._map('"$strangler_route:$strangler_safe:$strangler_upstream"', "$strangler_fallback", fallback, '""')

    def _map(self, source: str, variable: str, entries: Iterable[tuple[str, str]], default: str) -> None:
        self.emit(f"map {source} {variable} {{", f"    default {default};")
        for key, value in entries:
            self.emit(f"    {_q(key)} {value if value.startswith('$') else _q(value)};")
        self.emit("}")

    def _read_target(self, route: Route, rid: str, service: str) -> str:
        stage = route.stage
        if route.service == self.table.default_upstream or stage in (Stage.OFF, Stage.SHADOW):
            return self.default
        if stage is Stage.LIVE:
            return service
        if route.percent <= 0:
            return self.default
        chosen = service if route.percent >= 100 else self._cohort(route, rid, service)
        if route.pin_seconds <= 0:
            return chosen
        self.emit(
            f"map $cookie_{_pin_cookie(route.service)} $strangler_read_{rid} {{",
            f'    "" {chosen};',
            f"    default {self.default};",
            "}",
        )
        return f"$strangler_read_{rid}"

    def _cohort(self, route: Route, rid: str, service: str) -> str:
        key = self._sticky_key(route.sticky, rid)
        self.emit(
            f"# {route.path}: canary {route.percent}%, sticky on {route.sticky.kind} {route.sticky.name}".rstrip(),
            f"split_clients {_q(route.service + '|' + key)} $strangler_cohort_{rid} {{",
            f"    {route.percent}% {service};",
            f"    * {self.default};",
            "}",
        )
        return f"$strangler_cohort_{rid}"

    def _sticky_key(self, sticky: StickyKey, rid: str) -> str:
        client = '"client:$remote_addr"'
        if sticky.kind == "header":
            if not _HEADER_NAME.fullmatch(sticky.name):
                raise ExportRefused(f"sticky header {sticky.name!r} cannot be named in nginx")
            var = "$http_" + sticky.name.lower().replace("-", "_")
            self.emit(f"map {var} $strangler_key_{rid} {{", f'    "" {client};', f'    default "header:{var}";', "}")
            return f"$strangler_key_{rid}"
        if sticky.kind == "cookie":
            if not _COOKIE_NAME.fullmatch(sticky.name):
                raise ExportRefused(f"sticky cookie {sticky.name!r} cannot be named in nginx")
            name = "".join(c if c.isalnum() or c in "-_" else f"\\x{ord(c):02x}" for c in sticky.name)
            self.emit(
                f"map $http_cookie $strangler_key_{rid} {{",
                f'    "~(?:^|;)\\s*{name}=([^;]*[^;\\s])" "cookie:$1";',
                f"    default {client};",
                "}",
            )
            return f"$strangler_key_{rid}"
        return "client:$remote_addr"

    def _write_target(self, route: Route) -> str:
        if route.data is not None and self.options.writes_via_url is not None:
            return WRITES
        if route.stage is Stage.LIVE:
            return upstream_block(route.service)
        return self.default

    # --- headers -------------------------------------------------------------------------------------------------

    def _headers_maps(self) -> None:
        self.emit(
            "",
            "# Headers: request id kept when valid (visible ASCII, <= 200 bytes), Via appended, loops refused.",
            "map $http_x_request_id $strangler_request_id {",
            '    "~^[\\x21-\\x7e]{1,200}$" $http_x_request_id;',
            "    default $request_id;",
            "}",
            "map $http_via $strangler_via {",
            f'    "" "{VIA}";',
            f'    default "$http_via, {VIA}";',
            "}",
            "map $http_via $strangler_loop {",
            '    "~strangler-nginx" 1;',
            "    default 0;",
            "}",
            "map $request_uri $strangler_bad_path {",
            f'    "{_BAD_PATH}" 1;',
            "    default 0;",
            "}",
            "map $strangler_strip_credentials $strangler_authorization {",
            '    1 "";',
            "    default $http_authorization;",
            "}",
            "map $strangler_strip_credentials $strangler_cookie {",
            '    1 "";',
            "    default $http_cookie;",
            "}",
        )
        if self.options.access_log:
            self.emit(
                'log_format strangler_json escape=json \'{"time":"$time_iso8601","request_id":'
                '"$strangler_request_id","method":"$request_method","path":"$uri","status":$status,'
                '"route":"$strangler_route","upstream":"$strangler_upstream_name",'
                '"seconds":$request_time}\';'
            )

    def _server(self) -> None:
        upstreams = list(self.table.upstreams.values())
        connect = max((u.connect_timeout for u in upstreams), default=1.0)
        read = max((u.read_timeout for u in upstreams), default=30.0)
        mirrors = any(self._mirrors(r) for r in self.routes)
        self.emit("", "server {")
        for address in self.options.listen:
            self.emit(f"    listen {address};")
        log = f"access_log {self.options.access_log} strangler_json;" if self.options.access_log else "access_log off;"
        self.emit(
            "    server_name _;",
            f"    {log}",
            "    default_type application/json;",
            "    if ($strangler_bad_path) {",
            '        return 400 \'{"error":"bad_request_path","status":400,"detail":"encoded slash, backslash '
            'or control character in the path","producer":"strangler-nginx"}\';',
            "    }",
            "    if ($strangler_loop) {",
            '        return 508 \'{"error":"loop_detected","status":508,"detail":"the request already passed '
            'through this proxy","producer":"strangler-nginx"}\';',
            "    }",
            "    location / {",
        )
        if mirrors:
            self.emit("        set $strangler_mirror_to $strangler_mirror;  # read by the mirror subrequest")
            self.emit("        mirror /_strangler_mirror;")
        self.emit(
            "        proxy_pass http://$strangler_upstream;",
            *[f"        {line}" for line in _proxy_headers()],
            f"        proxy_connect_timeout {_ms(connect)};",
            f"        proxy_read_timeout {_ms(read)};",
            "        add_header X-Request-Id $strangler_request_id always;",
            "        add_header X-Strangler-Upstream $strangler_upstream_shown always;",
            "        add_header Set-Cookie $strangler_pin_cookie;",
            "        error_page 502 = @strangler_fallback_502;",
            "        error_page 504 = @strangler_fallback_504;",
            "    }",
        )
        for status, code, detail in (
            (502, "upstream_failed", "the upstream refused the connection or broke it before answering"),
            (504, "upstream_timeout", "the upstream did not answer in time"),
        ):
            self.emit(
                f"    location @strangler_fallback_{status} {{",
                '        if ($strangler_fallback = "") {',
                f'            return {status} \'{{"error":"{code}","status":{status},"detail":"{detail}",'
                f'"producer":"strangler-nginx"}}\';',
                "        }",
                "        proxy_pass http://$strangler_fallback;",
                *[f"        {line}" for line in _proxy_headers()],
                f"        proxy_connect_timeout {_ms(connect)};",
                f"        proxy_read_timeout {_ms(read)};",
                "        add_header X-Request-Id $strangler_request_id always;",
                "    }",
            )
        if mirrors:
            self.emit(
                "    location = /_strangler_mirror {",
                "        internal;",
                '        if ($strangler_mirror_to = "") { return 204; }',
                f"        proxy_pass http://{COMPARATOR}$request_uri;",
                # the client's own credentials: the comparator asks the monolith with them, and signs for the service
                *[f"        {line}" for line in _proxy_headers(credentials=False)],
                "        proxy_set_header X-Strangler-Mirror-Service $strangler_mirror_to;",
                "        proxy_connect_timeout 1s;",
                "        proxy_read_timeout 10s;",
                "    }",
            )
        self.emit("}")
        if self.options.status_listen:
            self.emit(
                "server {",
                f"    listen {self.options.status_listen};",
                "    access_log off;",
                f'    location = /strangler/version {{ default_type text/plain; return 200 "{self.table.version}"; }}',
                "    location / { return 404; }",
                "}",
            )


def _proxy_headers(*, credentials: bool = True) -> list[str]:
    strip = ["proxy_set_header Authorization $strangler_authorization;", "proxy_set_header Cookie $strangler_cookie;"]
    return [
        "proxy_http_version 1.1;",
        'proxy_set_header Connection "";',
        "proxy_set_header Host $http_host;",
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Forwarded-Host $http_host;",
        'proxy_set_header Forwarded "";',
        'proxy_set_header X-Real-IP "";',
        "proxy_set_header Via $strangler_via;",
        "proxy_set_header X-Request-Id $strangler_request_id;",
        *(strip if credentials else []),
        *[f'proxy_set_header {name} "";' for name in CONTROL_HEADERS],
    ]


def _pin_cookie(service: str) -> str:
    return "strangler_pin_" + re.sub(r"[^a-z0-9_]", "_", service)


def _wrap(http: str, options: NginxOptions) -> str:
    body = "\n".join("    " + line if line else "" for line in http.splitlines())
    user = f"user {options.user};\n" if options.user else ""
    return (
        f"# A whole nginx.conf: run it with `nginx -p DIR -c FILE` (pid and temporary files under DIR; errors go\n"
        f"# to stderr).\n"
        f"worker_processes {options.worker_processes};\n"
        f"pcre_jit on;  # the route map is regular expressions\n"
        f"pid nginx.pid;\n"
        f"error_log stderr warn;\n"
        f"{user}"
        f"events {{ worker_connections 4096; }}\n"
        f"http {{\n"
        f"    client_body_temp_path client_body_temp;\n"
        f"    proxy_temp_path proxy_temp;\n"
        f"    fastcgi_temp_path fastcgi_temp;\n"
        f"    uwsgi_temp_path uwsgi_temp;\n"
        f"    scgi_temp_path scgi_temp;\n"
        f"    keepalive_requests 100000;\n"
        f"{body}\n"
        f"}}\n"
    )
