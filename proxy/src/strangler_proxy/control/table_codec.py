"""A route table as plain data (JSON, TOML) and back, with every rule checked on the way in.

`table_from_dict` is the only way untrusted input (an admin API body, a TOML file, a stored snapshot)
becomes a `RouteTable`; it collects every problem it finds rather than stopping at the first, so an
operator fixes a file in one round trip. `table_to_dict` is its inverse and also defines content
equality: two tables hold the same routes when their dicts are equal (the version is not content).
"""

from __future__ import annotations

import math
import re
from typing import Any

from strangler_proxy.control.compare_codec import check_compare, compare_from_dict, compare_to_dict
from strangler_proxy.dataplane.model import DEFAULT_UPSTREAM, Route, RouteTable, Stage, StickyKey, Upstream
from strangler_proxy.dataplane.table_rules import check_table, normalise_upstream_url
from strangler_proxy.errors import Problem, TableInvalid

TABLE_KEYS = frozenset({"upstreams", "routes", "default_upstream"})
UPSTREAM_KEYS = frozenset(
    {"url", "connect_timeout", "read_timeout", "max_connections", "max_pending", "health_path", "name"}
)
ROUTE_KEYS = frozenset(
    {
        "path",
        "service",
        "stage",
        "percent",
        "methods",
        "sticky",
        "mirror_unsafe",
        "pin_seconds",
        "compare",
        "data",
        "upstream_header",
        "forward_credentials",
    }
)
STICKY_KINDS = ("cookie", "header", "client")
DATA_SPEC = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def table_to_dict(table: RouteTable) -> dict[str, Any]:
    return {
        "default_upstream": table.default_upstream,
        "upstreams": {name: upstream_to_dict(u) for name, u in sorted(table.upstreams.items())},
        "routes": [route_to_dict(r) for r in table.routes],
    }


def upstream_to_dict(upstream: Upstream) -> dict[str, Any]:
    return {
        "url": upstream.url,
        "connect_timeout": upstream.connect_timeout,
        "read_timeout": upstream.read_timeout,
        "max_connections": upstream.max_connections,
        "max_pending": upstream.max_pending,
        "health_path": upstream.health_path,
    }


def route_to_dict(route: Route) -> dict[str, Any]:
    return {
        "path": route.path,
        "service": route.service,
        "stage": route.stage.value,
        "percent": route.percent,
        "methods": sorted(route.methods) if route.methods is not None else None,
        "sticky": {"kind": route.sticky.kind, "name": route.sticky.name},
        "mirror_unsafe": route.mirror_unsafe,
        "pin_seconds": route.pin_seconds,
        "compare": compare_to_dict(route.compare),
        # Absent when unset, so versions stored before the field existed compare equal.
        **({"data": route.data} if route.data is not None else {}),
        **({"upstream_header": True} if route.upstream_header else {}),
        **({"forward_credentials": True} if route.forward_credentials else {}),
    }


def same_content(a: RouteTable, b: RouteTable) -> bool:
    return table_to_dict(a) == table_to_dict(b)


def with_version(table: RouteTable, version: int) -> RouteTable:
    return RouteTable(
        version=version, upstreams=table.upstreams, routes=table.routes, default_upstream=table.default_upstream
    )


def table_from_dict(data: object, *, version: int = 0) -> RouteTable:
    """Parse and validate a whole table; raise `TableInvalid` listing every problem."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise TableInvalid([Problem("", "a route table must be an object with `upstreams` and `routes`")])
    _unknown_keys(data, TABLE_KEYS, "", problems)
    default_upstream = data.get("default_upstream", DEFAULT_UPSTREAM)
    if not isinstance(default_upstream, str):
        problems.append(Problem("default_upstream", "must be a string naming an upstream"))
        default_upstream = DEFAULT_UPSTREAM
    upstreams: dict[str, Upstream] = {}
    declared: set[str] = set()
    raw_upstreams = data.get("upstreams")
    if not isinstance(raw_upstreams, dict):
        problems.append(Problem("upstreams", "must be an object mapping upstream names to {url = ...}"))
    else:
        for name, raw in raw_upstreams.items():
            declared.add(str(name))
            upstream = _upstream_from_dict(str(name), raw, problems)
            if upstream is not None:
                upstreams[upstream.name] = upstream
    routes: list[Route] = []
    positions: list[int] = []
    raw_routes = data.get("routes", [])
    if not isinstance(raw_routes, list):
        problems.append(Problem("routes", "must be a list of route objects"))
    else:
        for i, raw in enumerate(raw_routes):
            route = route_from_dict(raw, f"routes[{i}]", problems)
            if route is not None:
                routes.append(route)
                positions.append(i)
    table = RouteTable(version=version, upstreams=upstreams, routes=tuple(routes), default_upstream=default_upstream)
    problems.extend(check_table(table, positions, frozenset(declared - upstreams.keys())))
    if problems:
        raise TableInvalid(problems)
    return table


def _upstream_from_dict(name: str, raw: object, problems: list[Problem]) -> Upstream | None:
    where = f"upstreams.{name}"
    if isinstance(raw, str):
        raw = {"url": raw}
    if not isinstance(raw, dict):
        problems.append(Problem(where, 'must be an object such as {url = "http://127.0.0.1:8001"}'))
        return None
    before = len(problems)
    _unknown_keys(raw, UPSTREAM_KEYS, where, problems)
    if "name" in raw and raw["name"] != name:
        problems.append(Problem(f"{where}.name", f"must equal the key it is listed under ({name!r})"))
    url = raw.get("url")
    if not isinstance(url, str):
        problems.append(Problem(f"{where}.url", "is required: the upstream's base URL, e.g. http://127.0.0.1:8001"))
        url = ""
    else:
        url_problem, url = normalise_upstream_url(url)
        if url_problem:
            problems.append(Problem(f"{where}.url", url_problem))
    defaults = Upstream(name=name, url="")
    connect_timeout = _number(raw, "connect_timeout", defaults.connect_timeout, where, problems, low=0.001, high=600)
    read_timeout = _number(raw, "read_timeout", defaults.read_timeout, where, problems, low=0.001, high=86400)
    max_connections = _integer(raw, "max_connections", defaults.max_connections, where, problems, low=1, high=100_000)
    max_pending = _integer(raw, "max_pending", defaults.max_pending, where, problems, low=0, high=1_000_000)
    health_path = raw.get("health_path", defaults.health_path)
    if not isinstance(health_path, str) or not health_path.startswith("/"):
        problems.append(Problem(f"{where}.health_path", "must be a path starting with /"))
        health_path = defaults.health_path
    if len(problems) > before:
        return None
    return Upstream(
        name=name,
        url=url,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_connections=max_connections,
        max_pending=max_pending,
        health_path=health_path,
    )


def route_from_dict(raw: object, where: str, problems: list[Problem]) -> Route | None:
    """Parse one route; append its problems (type and range only: table-wide rules live in table_rules)."""
    if not isinstance(raw, dict):
        problems.append(Problem(where, "must be an object with path, service and stage"))
        return None
    before = len(problems)
    _unknown_keys(raw, ROUTE_KEYS, where, problems)
    path = raw.get("path")
    if not isinstance(path, str) or not path:
        problems.append(Problem(f"{where}.path", "is required: a path prefix such as /api/catalog"))
        path = ""
    service = raw.get("service")
    if not isinstance(service, str) or not service:
        problems.append(Problem(f"{where}.service", "is required: the name of the upstream this route moves to"))
        service = ""
    stage = Stage.OFF
    raw_stage = raw.get("stage", "off")
    try:
        stage = Stage(raw_stage)
    except ValueError:
        choices = ", ".join(s.value for s in Stage)
        problems.append(Problem(f"{where}.stage", f"{raw_stage!r} is not a stage; choose one of {choices}"))
    percent = _integer(raw, "percent", 0, where, problems, low=0, high=100)
    methods = _methods(raw.get("methods"), f"{where}.methods", problems)
    sticky = _sticky(raw.get("sticky"), f"{where}.sticky", problems)
    mirror_unsafe = raw.get("mirror_unsafe", False)
    if not isinstance(mirror_unsafe, bool):
        problems.append(Problem(f"{where}.mirror_unsafe", "must be true or false"))
        mirror_unsafe = False
    pin_seconds = _number(raw, "pin_seconds", 5.0, where, problems, low=0, high=3600)
    compare = compare_from_dict(raw.get("compare"), f"{where}.compare", problems)
    problems.extend(check_compare(compare, f"{where}.compare"))
    data = raw.get("data")
    if data is not None and (not isinstance(data, str) or not DATA_SPEC.match(data)):
        problems.append(Problem(f"{where}.data", "must be a migration spec's name (lowercase, e.g. catalog)"))
    upstream_header = raw.get("upstream_header", False)
    if not isinstance(upstream_header, bool):
        problems.append(Problem(f"{where}.upstream_header", "must be true or false"))
    forward_credentials = raw.get("forward_credentials", False)
    if not isinstance(forward_credentials, bool):
        problems.append(Problem(f"{where}.forward_credentials", "must be true or false"))
    if len(problems) > before:
        return None
    return Route(
        path=path,
        service=service,
        stage=stage,
        percent=percent,
        methods=methods,
        sticky=sticky,
        mirror_unsafe=mirror_unsafe,
        pin_seconds=pin_seconds,
        compare=compare,
        data=data,
        upstream_header=upstream_header,
        forward_credentials=forward_credentials,
    )


def _methods(raw: object, where: str, problems: list[Problem]) -> frozenset[str] | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = [m.strip() for m in raw.split(",")]
    if not isinstance(raw, list) or not raw or not all(isinstance(m, str) for m in raw):
        problems.append(Problem(where, 'must be a non-empty list of HTTP methods such as ["GET", "HEAD"]'))
        return None
    methods = [m.upper() for m in raw]
    bad = [m for m in methods if not m.isascii() or not m.isalpha()]
    if bad:
        problems.append(Problem(where, f"not HTTP methods: {', '.join(repr(m) for m in bad)}"))
        return None
    if len(set(methods)) != len(methods):
        problems.append(Problem(where, "lists a method twice"))
        return None
    return frozenset(methods)


def _sticky(raw: object, where: str, problems: list[Problem]) -> StickyKey:
    if raw is None:
        return StickyKey()
    if isinstance(raw, str):
        kind, _, name = raw.partition(":")
        raw = {"kind": kind, "name": name}
    if not isinstance(raw, dict):
        problems.append(Problem(where, 'must be {kind = "cookie"|"header"|"client", name = ...}'))
        return StickyKey()
    _unknown_keys(raw, frozenset({"kind", "name"}), where, problems)
    kind = raw.get("kind", "client")
    name = raw.get("name", "")
    if kind not in STICKY_KINDS:
        problems.append(Problem(f"{where}.kind", f"{kind!r} is not one of cookie, header, client"))
        return StickyKey()
    if not isinstance(name, str):
        problems.append(Problem(f"{where}.name", "must be a string"))
        return StickyKey()
    if kind in ("cookie", "header") and not name:
        problems.append(Problem(f"{where}.name", f"a {kind} sticky key needs the {kind}'s name"))
    if kind == "client" and name:
        problems.append(Problem(f"{where}.name", "a client sticky key takes no name"))
    if kind == "cookie":
        return StickyKey(kind="cookie", name=name)
    if kind == "header":
        return StickyKey(kind="header", name=name.lower())
    return StickyKey(kind="client", name=name)


def _number(
    raw: dict[str, Any], key: str, default: float, where: str, problems: list[Problem], *, low: float, high: float
) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        problems.append(Problem(f"{where}.{key}", "must be a number"))
        return default
    if not low <= value <= high:
        problems.append(Problem(f"{where}.{key}", f"must be between {low:g} and {high:g}, got {value:g}"))
        return default
    return float(value)


def _integer(
    raw: dict[str, Any], key: str, default: int, where: str, problems: list[Problem], *, low: int, high: int
) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(Problem(f"{where}.{key}", f"must be a whole number between {low} and {high}"))
        return default
    if not low <= value <= high:
        problems.append(Problem(f"{where}.{key}", f"must be between {low} and {high}, got {value}"))
        return default
    return value


def _unknown_keys(raw: dict[str, Any], allowed: frozenset[str], where: str, problems: list[Problem]) -> None:
    for key in raw:
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            problems.append(Problem(f"{where}.{key}" if where else str(key), f"unknown field (known: {known})"))
