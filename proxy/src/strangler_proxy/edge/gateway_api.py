"""The route table as Kubernetes Gateway API `HTTPRoute`s (gateway.networking.k8s.io/v1, standard channel).

    documents = render_httproutes(table, GatewayOptions(parents=("shop/edge",), namespace="shop"))
    text = render_httproutes_yaml(table, options)        # `---`-separated YAML for kubectl apply

One `HTTPRoute` per route (the schema allows 16 rules a resource) and one for the default upstream (`/`). A route
path is a `PathPrefix` match, which the Gateway API defines per path element, so `/api/catalog` never matches
`/api/catalogue`; a path with `{param}` segments becomes a `RegularExpression` match (implementation-specific
support). A route's methods are one match each. Each upstream is a Service of the same name (`_` → `-`) on the
port of its URL. Stages:

* off: the monolith; live: the service;
* shadow: the monolith, with a `RequestMirror` filter (`mirror_percent`, default 100) to the comparator Service
  when one is named (Strangler's mirror listener, which asks both sides and compares), else to the service;
* a route that declares `data`: its unsafe methods go to `writes_via`, a Strangler replica's Service, which sends
  them to the data's owner and holds them during a cutover (a Gateway can do neither);
* canary P%: a rule for the unsafe methods to the monolith, and the rest split by `backendRefs` weights P and
  100-P. Weights are per request, not sticky (session persistence is not in the standard channel): a client
  moves between the sides from one request to the next, raising the share keeps nobody, and read-your-writes pins
  do not exist. Write holds, data owners and comparison gates are not expressible either (docs/edge.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml

from strangler_proxy.dataplane.model import SAFE_METHODS, Route, RouteTable, Stage
from strangler_proxy.dataplane.routing import compile_route_path
from strangler_proxy.errors import ExportRefused

API_VERSION = "gateway.networking.k8s.io/v1"
UNSAFE_METHODS = ("DELETE", "PATCH", "POST", "PUT")  # the schema's method enum, less the safe ones
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    parents: tuple[str, ...] = ()  # Gateways, NAME or NAMESPACE/NAME
    namespace: str | None = None
    hostnames: tuple[str, ...] = ()
    comparator: str | None = None  # Service NAME:PORT of Strangler's mirror listener
    writes_via: str | None = None  # Service NAME:PORT of a Strangler replica: writes on routes with `data` go there
    mirror_percent: int = 100


def render_httproutes(table: RouteTable, options: GatewayOptions) -> list[dict[str, Any]]:
    """The HTTPRoute documents of `table`; raise `ExportRefused` for what the Gateway API cannot express."""
    documents = [_resource(table, options, "strangler-default", [_rule([_prefix("/")], _refs(table, [(None, 1)]))])]
    names = {"strangler-default"}
    for route in table.routes:
        name = _name(route)
        if name in names:
            raise ExportRefused(f"route {route.path}: two routes would make HTTPRoute {name}")
        names.add(name)
        documents.append(_resource(table, options, name, _rules(table, options, route)))
    return documents


def render_httproutes_yaml(table: RouteTable, options: GatewayOptions) -> str:
    header = f"# Strangler route table version {table.version}, rendered by `strangler routes export`.\n"
    return header + "".join("---\n" + yaml.safe_dump(d, sort_keys=False) for d in render_httproutes(table, options))


def _resource(table: RouteTable, options: GatewayOptions, name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/managed-by": "strangler"}}
    if options.namespace:
        metadata["namespace"] = options.namespace
    spec: dict[str, Any] = {}
    if options.parents:
        spec["parentRefs"] = [_parent(p) for p in options.parents]
    if options.hostnames:
        spec["hostnames"] = list(options.hostnames)
    spec["rules"] = rules
    return {"apiVersion": API_VERSION, "kind": "HTTPRoute", "metadata": metadata, "spec": spec}


def _parent(text: str) -> dict[str, str]:
    namespace, _, name = text.rpartition("/")
    return {"name": name, "namespace": namespace} if namespace else {"name": name}


def _name(route: Route) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", route.path.lower()).strip("-") or "root"
    if route.methods is not None:
        slug += "-" + "-".join(sorted(m.lower() for m in route.methods))
    return ("strangler-" + slug)[:253].rstrip("-")


def _service(table: RouteTable, upstream: str) -> tuple[str, int]:
    config = table.upstreams.get(upstream)
    if config is None:
        raise ExportRefused(f"upstream {upstream!r} is not in the table")
    parts = urlsplit(config.url)
    return upstream.replace("_", "-"), parts.port or (443 if parts.scheme == "https" else 80)


def _refs(table: RouteTable, weighted: list[tuple[str | None, int]]) -> list[dict[str, Any]]:
    refs = []
    for upstream, weight in weighted:
        name, port = _service(table, upstream or table.default_upstream)
        refs.append({"name": name, "port": port, "weight": weight})
    return refs


def _prefix(path: str, method: str | None = None) -> dict[str, Any]:
    match: dict[str, Any] = {"path": {"type": "PathPrefix", "value": path}}
    if method is not None:
        match["method"] = method
    return match


def _path_match(route: Route) -> dict[str, Any]:
    segments = compile_route_path(route.path)
    if all(s is not None for s in segments):
        return {"type": "PathPrefix", "value": route.path.rstrip("/") or "/"}
    pattern = "".join("/[^/]+" if s is None else "/" + re.escape(s) for s in segments)
    return {"type": "RegularExpression", "value": f"^{pattern}(/.*)?$"}


def _matches(route: Route, methods: list[str] | None) -> list[dict[str, Any]]:
    path = _path_match(route)
    if methods is None:
        return [{"path": path}]
    return [{"path": dict(path), "method": m} for m in methods]  # copies: no YAML anchors


def _rule(
    matches: list[dict[str, Any]], refs: list[dict[str, Any]], filters: list[Any] | None = None
) -> dict[str, Any]:
    rule: dict[str, Any] = {"matches": matches}
    if filters:
        rule["filters"] = filters
    rule["backendRefs"] = refs
    return rule


def _rules(table: RouteTable, options: GatewayOptions, route: Route) -> list[dict[str, Any]]:
    methods = None
    if route.methods is not None:
        names = set(route.methods) | ({"HEAD"} if "GET" in route.methods else set())
        unknown = sorted(names - _METHODS)
        if unknown:
            raise ExportRefused(f"route {route.path}: the Gateway API cannot match method(s) {', '.join(unknown)}")
        methods = sorted(names)
    safe = sorted(set(methods or SAFE_METHODS) & SAFE_METHODS)
    unsafe = [m for m in (methods or UNSAFE_METHODS) if m not in SAFE_METHODS]
    rules: list[dict[str, Any]] = []
    if route.data is not None:
        # writes follow the data's owner and wait out a cutover's hold: only a Strangler replica can do that
        if options.writes_via is None:
            raise ExportRefused(
                f"route {route.path} declares data {route.data!r}: its writes must go to the data's owner and wait "
                f"out a cutover's write hold, which a Gateway cannot do; pass --writes-via-service NAME:PORT (a "
                f"Strangler replica's Service)"
            )
        if unsafe:
            rules.append(
                _rule(
                    _matches(route, unsafe), [{**_service_ref(options.writes_via, "--writes-via-service"), "weight": 1}]
                )
            )
        unsafe = []
        methods = safe
    stage = route.stage
    if stage is Stage.OFF:
        return [*rules, _rule(_matches(route, methods), _refs(table, [(None, 1)]))]
    if stage is Stage.LIVE:
        return [*rules, _rule(_matches(route, methods), _refs(table, [(route.service, 1)]))]
    if stage is Stage.SHADOW:
        mirrored = methods if route.mirror_unsafe and route.data is None else safe
        rules.append(_rule(_matches(route, mirrored), _refs(table, [(None, 1)]), [_mirror(table, options, route)]))
        rest = [] if mirrored is None else [m for m in unsafe if m not in mirrored]
        if rest:
            rules.append(_rule(_matches(route, rest), _refs(table, [(None, 1)])))
        return rules
    # canary: writes to the monolith (the system of record), reads split by weight
    if unsafe:
        rules.append(_rule(_matches(route, unsafe), _refs(table, [(None, 1)])))
    if safe:
        weights = [(None, 100 - route.percent), (route.service, route.percent)]
        rules.append(_rule(_matches(route, safe if methods else None), _refs(table, weights)))
    return rules


def _service_ref(text: str, option: str) -> dict[str, Any]:
    name, _, port = text.rpartition(":")
    if not name or not port.isdigit():
        raise ExportRefused(f"{option} {text!r} must be NAME:PORT")
    return {"name": name, "port": int(port)}


def _mirror(table: RouteTable, options: GatewayOptions, route: Route) -> dict[str, Any]:
    if options.comparator:
        ref = _service_ref(options.comparator, "--comparator-service")
    else:
        service, port_number = _service(table, route.service)
        ref = {"name": service, "port": port_number}
    return {"type": "RequestMirror", "requestMirror": {"backendRef": ref, "percent": options.mirror_percent}}
