"""A spec's table resolved against the live databases: the exact columns, kinds and SQL fragments to use."""

from __future__ import annotations

from dataclasses import dataclass

from strangler_playbook.database.connection import Database, quote
from strangler_playbook.errors import SchemaError
from strangler_playbook.spec.column_types import Kind, merge_kinds, parse_kind
from strangler_playbook.spec.spec import TableSpec


@dataclass(frozen=True)
class ColumnMap:
    target: str
    source: str
    kind: Kind  # what both sides are normalised to
    source_kind: Kind
    target_kind: Kind
    source_type: str = ""  # as declared in each database
    target_type: str = ""


@dataclass(frozen=True)
class Table:
    spec: TableSpec
    columns: tuple[ColumnMap, ...]
    target_exists: bool

    @property
    def source(self) -> str:
        return self.spec.source

    @property
    def target(self) -> str:
        return self.spec.target

    @property
    def key_targets(self) -> tuple[str, ...]:
        return self.spec.key

    @property
    def key_sources(self) -> tuple[str, ...]:
        return tuple(self.spec.source_column(k) for k in self.spec.key)

    @property
    def key_indexes(self) -> tuple[int, ...]:
        names = [c.target for c in self.columns]
        return tuple(names.index(k) for k in self.spec.key)

    @property
    def key_kinds(self) -> tuple[Kind, ...]:
        return tuple(self.columns[i].kind for i in self.key_indexes)

    def source_select_list(self) -> str:
        return ", ".join(quote(c.source) for c in self.columns)

    def target_column_list(self) -> str:
        return ", ".join(quote(c.target) for c in self.columns)

    def source_filter(self) -> str:
        return f"({self.spec.filter})" if self.spec.filter else "TRUE"


def resolve(spec: TableSpec, source: Database, target: Database, *, require_target: bool = True) -> Table:
    """Check the spec's table against both databases; raise SchemaError naming exactly what is missing."""
    if not source.table_exists(spec.source):
        raise SchemaError(
            f"source table {spec.source} does not exist in {source.display}",
            hint="check the spec's `source` name and the --source URL",
        )
    source_cols = source.columns(spec.source)
    target_exists = target.table_exists(spec.target)
    if not target_exists and require_target:
        raise SchemaError(
            f"target table {spec.target} does not exist in {target.display}",
            hint="create the target schema first (run the service's migrations), then retry",
        )
    target_cols = target.columns(spec.target) if target_exists else {}
    if spec.columns is not None:
        wanted = list(spec.columns)
    elif target_exists:
        wanted = [c for c in target_cols if spec.source_column(c) in source_cols]
    else:
        inverse = {src: tgt for tgt, src in spec.rename.items()}
        wanted = [inverse.get(c, c) for c in source_cols]
    for column in wanted:
        src = spec.source_column(column)
        if src not in source_cols:
            raise SchemaError(
                f"column {src} does not exist in source table {spec.source}",
                hint=f"its columns are: {', '.join(source_cols)}",
            )
        if target_exists and column not in target_cols:
            raise SchemaError(
                f"column {column} does not exist in target table {spec.target}",
                hint=f"its columns are: {', '.join(target_cols)}",
            )
    for key in spec.key:
        if key not in wanted:
            raise SchemaError(f"key column {key} of {spec.target} is not among the copied columns")
    maps = []
    for column in wanted:
        src = spec.source_column(column)
        source_kind = parse_kind(source_cols[src])
        target_kind = parse_kind(target_cols[column]) if target_exists else source_kind
        kind = parse_kind(spec.types[column]) if column in spec.types else merge_kinds(source_kind, target_kind)
        declared_target = target_cols[column] if target_exists else ""
        maps.append(ColumnMap(column, src, kind, source_kind, target_kind, source_cols[src], declared_target))
    return Table(spec=spec, columns=tuple(maps), target_exists=target_exists)


def key_sql(db: Database, table: Table, *, side: str) -> str:
    """The key as an SQL row value in `side`'s names; text keys compare bytewise on both engines."""
    parts = []
    for index in table.key_indexes:
        column = table.columns[index]
        name = quote(column.source if side == "source" else column.target)
        if db.engine == "postgresql" and column.kind.name == "text":
            name += ' COLLATE "C"'
        parts.append(name)
    return parts[0] if len(parts) == 1 else "(" + ", ".join(parts) + ")"


def key_params_sql(db: Database, width: int) -> str:
    return db.ph if width == 1 else "(" + ", ".join([db.ph] * width) + ")"


def key_order_sql(db: Database, table: Table, *, side: str, descending: bool = False) -> str:
    key = key_sql(db, table, side=side)
    parts = key[1:-1].split(", ") if key.startswith("(") else [key]
    return ", ".join(p + (" DESC" if descending else "") for p in parts)


def key_select_sql(table: Table, *, side: str) -> str:
    return ", ".join(
        quote(table.columns[i].source if side == "source" else table.columns[i].target) for i in table.key_indexes
    )
