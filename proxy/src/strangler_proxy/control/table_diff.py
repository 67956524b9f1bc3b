"""What changes between two route tables, one human-readable line per change.

Routes are matched by (path, methods), the identity an operator sees; upstreams by name. A change's
summary in the audit log is this diff, so history reads like a changelog.
"""

from __future__ import annotations

from typing import Any

from strangler_proxy.control.table_codec import route_to_dict, upstream_to_dict
from strangler_proxy.dataplane.model import Route, RouteTable, route_label, stage_label


def diff_tables(old: RouteTable | None, new: RouteTable) -> list[str]:
    lines: list[str] = []
    old_upstreams = old.upstreams if old else {}
    if old is not None and old.default_upstream != new.default_upstream:
        lines.append(f"~ default upstream {old.default_upstream} -> {new.default_upstream}")
    for name in sorted(old_upstreams.keys() - new.upstreams.keys()):
        lines.append(f"- upstream {name} ({old_upstreams[name].url})")
    for name in sorted(new.upstreams.keys() - old_upstreams.keys()):
        lines.append(f"+ upstream {name} {new.upstreams[name].url}")
    for name in sorted(new.upstreams.keys() & old_upstreams.keys()):
        changes = _field_changes(upstream_to_dict(old_upstreams[name]), upstream_to_dict(new.upstreams[name]))
        if changes:
            lines.append(f"~ upstream {name}: {changes}")
    old_routes = {route_label(r): r for r in (old.routes if old else ())}
    new_routes = {route_label(r): r for r in new.routes}
    for label, route in old_routes.items():
        if label not in new_routes:
            lines.append(f"- route {label} ({route.service}, {stage_label(route)})")
    for label, route in new_routes.items():
        if label not in old_routes:
            lines.append(f"+ route {label} -> {route.service} ({stage_label(route)})")
            continue
        before = old_routes[label]
        if (before.stage, before.percent) != (route.stage, route.percent):
            before_fields = _without_stage(before)
            after_fields = _without_stage(route)
            rest = _field_changes(before_fields, after_fields)
            tail = f"; {rest}" if rest else ""
            lines.append(f"~ route {label} -> {route.service}: {stage_label(before)} -> {stage_label(route)}{tail}")
        else:
            changes = _field_changes(route_to_dict(before), route_to_dict(route))
            if changes:
                lines.append(f"~ route {label}: {changes}")
    if not lines and old is not None and [route_label(r) for r in old.routes] != [route_label(r) for r in new.routes]:
        lines.append("~ route order changed")
    return lines


def summarise(lines: list[str]) -> str:
    return "\n".join(lines) if lines else "no change"


def _without_stage(route: Route) -> dict[str, Any]:
    data = route_to_dict(route)
    del data["stage"], data["percent"]
    return data


def _field_changes(old: dict[str, Any], new: dict[str, Any]) -> str:
    changes: list[str] = []
    for key in {**old, **new}:
        if old.get(key) == new.get(key):
            continue
        if key == "compare":  # one entry per setting: `compare.noise_sample 0.1 -> 1.0`
            changes.extend(
                f"compare.{k} {_show(old[key][k])} -> {_show(new[key][k])}"
                for k in old[key]
                if old[key][k] != new[key][k]
            )
        elif key == "data":  # the migration spec the route stands on, or none
            changes.append(f"data {old.get(key) or 'none'} -> {new.get(key) or 'none'}")
        elif key in ("upstream_header", "forward_credentials"):  # absent when off
            changes.append(f"{key} {'on' if old.get(key) else 'off'} -> {'on' if new.get(key) else 'off'}")
        else:
            changes.append(f"{key} {_show(old.get(key))} -> {_show(new.get(key))}")
    return ", ".join(changes)


def _show(value: object) -> str:
    if isinstance(value, dict):
        return ":".join(str(v) for v in value.values() if v) or "-"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if value is None:
        return "any"
    return str(value)
