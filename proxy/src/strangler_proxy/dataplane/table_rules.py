"""The rules every route table obeys: the one validator, run by the control plane before it stores a table and by
the data plane before it serves one.

`check_table` returns every problem, each with the field it is in, so an operator fixes a file in one round trip;
`validate_table` raises them as `TableInvalid` (`ProxyApp.set_table` keeps the table it serves). The types and
ranges of single fields are checked where untrusted input is parsed (`control/table_codec.py`); these are the rules
a `RouteTable` built in code must obey too:

* upstream names are `[a-z][a-z0-9_-]*` and equal their key; URLs are `http(s)://host[:port]`, no path, no
  credentials; the default upstream exists;
* a route's service is a known upstream; `percent` is 0..100 and only with `canary`; a cookie or header sticky key
  has a name; `pin_seconds` is not negative;
* route paths are canonical segment prefixes (the data plane matches canonical request paths against them
  segment by segment, so a non-canonical rule would silently never match);
* two rules may not claim the same (path, method): the winner would depend on list order, which an operator
  cannot see in a diff.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from strangler_proxy.dataplane.model import Route, RouteTable, Stage
from strangler_proxy.dataplane.routing import canonicalise
from strangler_proxy.errors import BadRequestPath, Problem, TableInvalid

UPSTREAM_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
# RFC 3986 pchar without percent-escapes: a rule is written with decoded characters only.
PLAIN_SEGMENT = re.compile(r"^[A-Za-z0-9\-._~!$&'()*+,;=:@]+$")
PARAM_SEGMENT = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def check_table(
    table: RouteTable, positions: Sequence[int] | None = None, broken_upstreams: frozenset[str] = frozenset()
) -> list[Problem]:
    """Check `table`; `positions[i]` is where routes[i] stood in the input, when some failed to parse.

    Names in `broken_upstreams` were declared but failed to parse: already reported, so not "unknown" again.
    """
    problems: list[Problem] = []
    for name, upstream in table.upstreams.items():
        if not UPSTREAM_NAME.match(name):
            problems.append(
                Problem(f"upstreams.{name}", "names are lowercase letters, digits, - and _, starting with a letter")
            )
        if upstream.name != name:
            problems.append(Problem(f"upstreams.{name}.name", f"must equal the key it is listed under ({name!r})"))
        url_problem, url = normalise_upstream_url(upstream.url)
        if url_problem is None and url != upstream.url:
            url_problem = f"{upstream.url!r} must be scheme://host[:port] with no path, query or fragment"
        if url_problem is not None:
            problems.append(Problem(f"upstreams.{name}.url", url_problem))
    known = ", ".join(sorted(table.upstreams)) or "none"
    if table.default_upstream not in table.upstreams and table.default_upstream not in broken_upstreams:
        problems.append(
            Problem(
                "default_upstream",
                f"{table.default_upstream!r} is not a known upstream (known: {known}); "
                f"every table needs it: unmatched requests go there",
            )
        )
    claimed: dict[tuple[str, str], int] = {}
    for n, route in enumerate(table.routes):
        i = positions[n] if positions is not None else n
        where = f"routes[{i}]"
        problems.extend(check_route(route, where, table, broken_upstreams))
        for method in sorted(route.methods) if route.methods is not None else ["*"]:
            key = (route_shape(route.path), method)
            if key in claimed:
                what = "every method" if method == "*" else method
                problems.append(Problem(where, f"{route.path} for {what} is already claimed by routes[{claimed[key]}]"))
            else:
                claimed[key] = i
    return problems


def check_route(
    route: Route, where: str, table: RouteTable, broken_upstreams: frozenset[str] = frozenset()
) -> list[Problem]:
    problems: list[Problem] = []
    path_problem = check_route_path(route.path)
    if path_problem:
        problems.append(Problem(f"{where}.path", path_problem))
    if route.service not in table.upstreams and route.service not in broken_upstreams:
        known = ", ".join(sorted(table.upstreams)) or "none"
        problems.append(
            Problem(
                f"{where}.service",
                f"{route.service!r} is not a known upstream (known: {known}); add it under [upstreams] first",
            )
        )
    if not 0 <= route.percent <= 100:
        problems.append(Problem(f"{where}.percent", f"must be between 0 and 100, got {route.percent}"))
    elif route.percent and route.stage is not Stage.CANARY:
        problems.append(
            Problem(f"{where}.percent", f"a percentage only applies to the canary stage, not {route.stage.value}")
        )
    if route.sticky.kind in ("cookie", "header") and not route.sticky.name:
        kind = route.sticky.kind
        problems.append(Problem(f"{where}.sticky.name", f"a {kind} sticky key needs the {kind}'s name"))
    if route.pin_seconds < 0:
        problems.append(Problem(f"{where}.pin_seconds", f"must not be negative, got {route.pin_seconds:g}"))
    if not isinstance(route.forward_credentials, bool):
        problems.append(Problem(f"{where}.forward_credentials", "must be true or false"))
    elif route.forward_credentials and route.service == table.default_upstream:
        problems.append(
            Problem(
                f"{where}.forward_credentials",
                f"{route.service!r} is the default upstream, which always gets the client's credentials; "
                "forward_credentials is for a service that must act as the client",
            )
        )
    return problems


def check_route_path(path: str) -> str | None:
    """Return why `path` is not a canonical segment prefix, or None when it is."""
    if not path.startswith("/"):
        return f"{path!r} must start with /"
    if path == "/":
        return None
    if path.endswith("/"):
        fixed = path.rstrip("/")
        return f"{path!r} must not end with / (a prefix matches with and without a trailing slash): write {fixed!r}"
    params: set[str] = set()
    for segment in path[1:].split("/"):
        if segment == "":
            return f"{path!r} has an empty segment (//)"
        if segment in (".", ".."):
            return f"{path!r} has a dot segment ({segment}); write the path it resolves to"
        param = PARAM_SEGMENT.match(segment)
        if param:
            if param.group(1) in params:
                return f"{path!r} uses the parameter {{{param.group(1)}}} twice"
            params.add(param.group(1))
            continue
        if "%" in segment:
            return f"{path!r} has a percent-escape; write the decoded character instead"
        if not PLAIN_SEGMENT.match(segment):
            return f"{path!r} has a character that is not allowed in a path segment ({segment!r})"
    if not params:
        try:
            canonical = canonicalise(path.encode())
        except BadRequestPath as exc:
            return f"{path!r} cannot be canonicalised: {exc}"
        if canonical != path:
            return f"the proxy canonicalises {path!r} to {canonical!r}: write that"
    return None


def validate_table(table: RouteTable) -> None:
    """Raise `TableInvalid` listing every rule `table` breaks (see the module docstring)."""
    problems = check_table(table)
    if problems:
        raise TableInvalid(problems)


def route_shape(path: str) -> str:
    """The path with parameter names erased: /a/{id} and /a/{pk} match the same requests."""
    return "/".join("{}" if PARAM_SEGMENT.match(s) else s for s in path.split("/"))


def normalise_upstream_url(url: str) -> tuple[str | None, str]:
    """Return (problem, url): the base URL without a trailing slash, or why it is not one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"{url!r} is not a URL ({exc})", url
    if parts.scheme not in ("http", "https"):
        return f"{url!r} must start with http:// or https://", url
    if not parts.hostname:
        return f"{url!r} has no host", url
    if parts.username or parts.password:
        return "must not carry credentials", url
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"{url!r} must be scheme://host[:port] with no path, query or fragment", url
    if port == 0:
        return f"{url!r} has port 0", url
    return None, url.rstrip("/")
