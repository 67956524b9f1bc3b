"""The extraction spec: which source tables become which target tables, and how.

A spec is a TOML file, validated completely before any database is touched::

    name = "catalog"                       # names the changelog, triggers and checkpoints
    routes = ["/api/catalog/"]             # the routes this data backs (the proxy gates them on it)
    hold_routes = ["/api/orders"]          # other routes whose writes reach these tables (held during a handover)
    source_url_env = "MONOLITH_DATABASE_URL"
    target_url_env = "CATALOG_DATABASE_URL"

    [[tables]]
    source = "catalog_product"
    target = "catalog_product"             # default: same as source
    key = ["id"]                           # keyset order and identity; default ["id"]
    columns = ["id", "sku", "price"]       # default: every target column the source also has
    filter = "active"                      # SQL predicate on the source; default: every row
    external_ids = ["seller_id"]           # foreign keys into other domains, kept as plain ids
    rename = { title = "name" }            # target column = source column
    types = { price = "decimal(12,2)" }    # override what introspection says
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strangler_playbook.errors import SpecError
from strangler_playbook.spec.column_types import parse_kind

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
SPEC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
TOP_LEVEL_KEYS = {"name", "description", "routes", "hold_routes", "source_url_env", "target_url_env", "tables"}
TABLE_KEYS = {"source", "target", "key", "columns", "filter", "external_ids", "rename", "types"}


@dataclass(frozen=True)
class TableSpec:
    source: str
    target: str
    key: tuple[str, ...]
    columns: tuple[str, ...] | None = None
    filter: str | None = None
    external_ids: tuple[str, ...] = ()
    rename: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)

    def source_column(self, target_column: str) -> str:
        return self.rename.get(target_column, target_column)

    def reversed(self) -> TableSpec:
        """The same table with source and target swapped (the service → monolith direction)."""
        inverse = {src: tgt for tgt, src in self.rename.items()}
        return TableSpec(
            source=self.target,
            target=self.source,
            key=tuple(self.rename.get(k, k) for k in self.key),
            columns=tuple(self.rename.get(c, c) for c in self.columns) if self.columns else None,
            filter=None,
            external_ids=tuple(self.rename.get(c, c) for c in self.external_ids),
            rename=inverse,
            types={self.rename.get(c, c): t for c, t in self.types.items()},
        )


@dataclass(frozen=True)
class Spec:
    name: str
    tables: tuple[TableSpec, ...]
    routes: tuple[str, ...] = ()
    # Routes the monolith serves whose writes reach these tables anyway (placing an order reserves stock): a
    # handover holds their unsafe requests with the spec's own routes, so no such write lands on the old owner
    # after its drain. The proxy never routes them to the service, and the data gate does not watch them.
    hold_routes: tuple[str, ...] = ()
    description: str = ""
    source_url_env: str = "STRANGLER_SOURCE_URL"
    target_url_env: str = "STRANGLER_TARGET_URL"
    path: Path | None = None

    def reversed(self) -> Spec:
        return Spec(
            name=self.name,
            tables=tuple(t.reversed() for t in self.tables),
            routes=self.routes,
            hold_routes=self.hold_routes,
            description=self.description,
            source_url_env=self.target_url_env,
            target_url_env=self.source_url_env,
            path=self.path,
        )


def load_spec(path: str | Path) -> Spec:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SpecError(f"spec file {path} does not exist", hint="pass the path of a spec TOML file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"spec file {path} is not valid TOML: {exc}", hint="fix the TOML syntax") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read spec file {path}: {exc}") from exc
    return parse_spec(raw, path=path)


def parse_spec(raw: dict[str, Any], *, path: Path | None = None) -> Spec:
    where = str(path) if path else "spec"
    _reject_unknown(raw, TOP_LEVEL_KEYS, where)
    name = raw.get("name")
    if not isinstance(name, str) or not SPEC_NAME.match(name):
        raise SpecError(
            f"{where}: `name` must be a lowercase identifier of at most 31 characters, got {name!r}",
            hint='add e.g. name = "catalog" at the top of the spec',
        )
    tables_raw = raw.get("tables")
    if not isinstance(tables_raw, list) or not tables_raw:
        raise SpecError(f"{where}: no [[tables]] entries", hint="add at least one [[tables]] with a `source`")
    tables = tuple(_parse_table(t, f"{where} [[tables]] #{i + 1}") for i, t in enumerate(tables_raw))
    for attr in ("source", "target"):
        names = [getattr(t, attr) for t in tables]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SpecError(f"{where}: {attr} table {dupes[0]} appears more than once")
    routes = _paths(raw.get("routes", []), f"{where}: `routes`")
    hold_routes = _paths(raw.get("hold_routes", []), f"{where}: `hold_routes`")
    both = sorted({r.rstrip("/") for r in routes} & {r.rstrip("/") for r in hold_routes})
    if both:
        raise SpecError(
            f"{where}: {both[0]} is in `routes` and in `hold_routes`",
            hint="a route the data backs is held already: list it in `routes` only",
        )
    env_names = {}
    for key in ("source_url_env", "target_url_env"):
        value = raw.get(key, Spec.source_url_env if key == "source_url_env" else Spec.target_url_env)
        if not isinstance(value, str) or not IDENTIFIER.match(value):
            raise SpecError(f"{where}: `{key}` must name an environment variable, got {value!r}")
        env_names[key] = value
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise SpecError(f"{where}: `description` must be a string")
    return Spec(
        name=name,
        tables=tables,
        routes=tuple(routes),
        hold_routes=tuple(hold_routes),
        description=description,
        path=path,
        **env_names,
    )


def _parse_table(raw: Any, where: str) -> TableSpec:
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: must be a table")
    _reject_unknown(raw, TABLE_KEYS, where)
    source = _identifier(raw.get("source"), f"{where}: `source`")
    target = _identifier(raw.get("target", source), f"{where}: `target`")
    key = tuple(_identifier(k, f"{where}: `key`") for k in _str_list(raw.get("key", ["id"]), f"{where}: `key`"))
    if not key:
        raise SpecError(f"{where}: `key` must name at least one column")
    columns_raw = raw.get("columns")
    columns = None
    if columns_raw is not None:
        columns = tuple(_identifier(c, f"{where}: `columns`") for c in _str_list(columns_raw, f"{where}: `columns`"))
        missing_key = [k for k in key if k not in columns]
        if missing_key:
            raise SpecError(f"{where}: key column {missing_key[0]} must be among `columns`")
    flt = raw.get("filter")
    if flt is not None and (not isinstance(flt, str) or not flt.strip() or ";" in flt):
        raise SpecError(f"{where}: `filter` must be one SQL predicate without `;`, got {flt!r}")
    external = tuple(
        _identifier(c, f"{where}: `external_ids`")
        for c in _str_list(raw.get("external_ids", []), f"{where}: `external_ids`")
    )
    rename = _str_map(raw.get("rename", {}), f"{where}: `rename`")
    for tgt, src in rename.items():
        _identifier(tgt, f"{where}: `rename`")
        _identifier(src, f"{where}: `rename`")
    types = _str_map(raw.get("types", {}), f"{where}: `types`")
    for column, declared in types.items():
        _identifier(column, f"{where}: `types`")
        try:
            parse_kind(declared, strict=True)
        except ValueError as exc:
            raise SpecError(f"{where}: `types.{column}`: {exc}") from exc
    return TableSpec(
        source=source,
        target=target,
        key=key,
        columns=columns,
        filter=flt.strip() if flt else None,
        external_ids=external,
        rename=rename,
        types=types,
    )


def _reject_unknown(raw: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise SpecError(f"{where}: unknown key {unknown[0]!r}", hint=f"allowed keys are {', '.join(sorted(allowed))}")


def _identifier(value: Any, what: str) -> str:
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        raise SpecError(f"{what} must be a plain SQL identifier, got {value!r}")
    return value


def _paths(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(r, str) and r.startswith("/") for r in value):
        raise SpecError(f"{what} must be a list of paths starting with /")
    return value


def _str_list(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{what} must be a list of strings, got {value!r}")
    return value


def _str_map(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise SpecError(f"{what} must be a table of strings, got {value!r}")
    return dict(value)
