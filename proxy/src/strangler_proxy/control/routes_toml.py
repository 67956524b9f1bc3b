"""Routes as code: the whole route table in a TOML file, applied like `kubectl apply`.

    default_upstream = "monolith"          # optional; unmatched requests go here

    [upstreams.monolith]
    url = "http://127.0.0.1:8000"

    [upstreams.catalog]
    url = "http://127.0.0.1:8001"
    read_timeout = 10                      # optional: connect_timeout, read_timeout, max_connections,
                                           #           max_pending, health_path
    [[routes]]
    path = "/api/catalog"
    service = "catalog"
    stage = "canary"                       # off | shadow | canary | live
    percent = 10                           # canary only
    methods = ["GET", "HEAD"]              # optional; default every method
    sticky = "cookie:sessionid"            # optional; cookie:NAME, header:NAME or client (default)

The file is declarative: what it does not list is removed on apply. `dump_routes_toml` writes the current
table back in this form, leaving out values equal to their defaults, so `export` then `apply` is a no-op.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from strangler_proxy.control.table_codec import route_to_dict, table_from_dict, upstream_to_dict
from strangler_proxy.dataplane.model import Route, RouteTable, StickyKey, Upstream
from strangler_proxy.errors import RoutesFileError

HEADER = "# Strangler route table (routes as code). Apply with: strangler routes apply FILE\n"


def read_routes_text(text: str, *, source: str = "<routes>") -> dict[str, Any]:
    """Parse TOML into the table's plain-data form; raise RoutesFileError with the line that is wrong."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RoutesFileError(f"{source} is not valid TOML: {exc}") from exc


def read_routes_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RoutesFileError(f"cannot read {path}: {exc}") from exc
    return read_routes_text(text, source=str(path))


def load_routes_file(path: Path) -> RouteTable:
    """Read and validate a routes file (raises RoutesFileError or TableInvalid)."""
    return table_from_dict(read_routes_file(path))


def dump_routes_toml(table: RouteTable) -> str:
    defaults_upstream = upstream_to_dict(Upstream(name="", url=""))
    upstreams: dict[str, Any] = {}
    for name, upstream in sorted(table.upstreams.items()):
        data = upstream_to_dict(upstream)
        upstreams[name] = {k: v for k, v in data.items() if k == "url" or v != defaults_upstream[k]}
    defaults_route = route_to_dict(Route(path="", service=""))
    routes: list[dict[str, Any]] = []
    for route in table.routes:
        data = route_to_dict(route)
        data["sticky"] = _sticky_text(route.sticky)
        data["compare"] = {k: v for k, v in data["compare"].items() if v != defaults_route["compare"][k]}
        if not data["compare"]:
            data["compare"] = defaults_route["compare"]  # equal to the default, so left out below
        routes.append(
            {
                k: v
                for k, v in data.items()
                if k in ("path", "service", "stage") or (v != defaults_route.get(k) and v is not None and v != "client")
            }
        )
    document: dict[str, Any] = {"default_upstream": table.default_upstream, "upstreams": upstreams}
    if routes:
        document["routes"] = routes
    return HEADER + tomli_w.dumps(document)


def _sticky_text(sticky: StickyKey) -> str:
    return sticky.kind if sticky.kind == "client" else f"{sticky.kind}:{sticky.name}"
