"""Column kinds and the one place where values are normalised across engines.

SQLite stores booleans as 0/1, decimals as REAL or TEXT and timestamps as TEXT; PostgreSQL has real types.
Every value that crosses engines goes through `canonical` (driver value → Python value of the kind) and
`bind_value` (Python value → what the target engine stores). Checksums use `text_of` in Python and the SQL in
`pg_text_sql` inside PostgreSQL; both must produce byte-identical text, which the cross-engine tests prove.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Literal

KindName = Literal["int", "float", "text", "bool", "decimal", "timestamp", "date", "bytes"]
NULL_TEXT = "\\N"
FIELD_SEPARATOR = "\x1f"

_WIDE = Context(prec=1100)  # room for any double (≤ 309 digits) at any sane scale
_DECIMAL = re.compile(r"^(?:decimal|numeric)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$")


@dataclass(frozen=True)
class Kind:
    name: KindName
    scale: int | None = None  # decimals: digits after the point, when known
    tz: bool = True  # timestamps: PostgreSQL `timestamptz` (SQLite text is read as UTC either way)

    @property
    def code(self) -> str:
        """A short stable token, passed to the SQLite checksum function once per row."""
        if self.name == "decimal":
            return f"d{'' if self.scale is None else self.scale}"
        return {"int": "i", "float": "f", "text": "t", "bool": "b", "timestamp": "ts", "date": "dt", "bytes": "x"}[
            self.name
        ]


def parse_kind(declared: str, *, strict: bool = False) -> Kind:
    """Map a declared SQL type (PostgreSQL or SQLite, as Django writes them) to a kind."""
    t = declared.strip().lower()
    if t in ("bool", "boolean"):
        return Kind("bool")
    m = _DECIMAL.match(t)
    if m:
        return Kind("decimal", scale=int(m.group(2)) if m.group(2) is not None else (0 if m.group(1) else None))
    if t.startswith("timestamp") or t == "datetime":
        return Kind("timestamp", tz="without time zone" not in t)
    if t == "date":
        return Kind("date")
    if t in ("real", "double precision", "float", "float4", "float8", "double"):
        return Kind("float")
    if t == "bytea" or t == "blob":
        return Kind("bytes")
    if "int" in t or t in ("serial", "bigserial", "smallserial"):
        return Kind("int")
    if t in ("text", "uuid", "jsonb", "json", "citext") or t.startswith(("varchar", "character", "char")):
        return Kind("text")
    if strict:
        raise ValueError(f"unknown column type {declared!r}")
    return Kind("text")


def merge_kinds(source: Kind, target: Kind) -> Kind:
    """Pick the kind both sides are compared as: the more specific of the two declarations."""
    if source == target:
        return target
    if target.name == "text" and source.name != "text":
        return source
    if source.name == target.name == "decimal":
        return target if target.scale is not None else source
    return target


def canonical(value: Any, kind: Kind) -> Any:
    """A driver value from either engine → the Python value of `kind` (None stays None)."""
    if value is None:
        return None
    name = kind.name
    if name == "bool":
        if isinstance(value, str):
            return value.strip().lower() in ("1", "t", "true", "y", "yes")
        return bool(value)
    if name == "decimal":
        number = value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else value)
        if kind.scale is not None:
            # PostgreSQL's round() goes half away from zero; so must we, or 0.125 compares unequal.
            number = number.quantize(Decimal(1).scaleb(-kind.scale), rounding=ROUND_HALF_UP, context=_WIDE)
        return number
    if name == "timestamp":
        stamp = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if stamp.tzinfo is None:
            return stamp.replace(tzinfo=UTC)
        return stamp.astimezone(UTC)
    if name == "date":
        return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    if name == "int":
        return int(value)
    if name == "float":
        return float(value)
    if name == "bytes":
        return bytes(value)
    return value if isinstance(value, str) else str(value)


def bind_value(value: Any, kind: Kind, engine: str) -> Any:
    """A canonical value → what to bind when writing to `engine` ("sqlite" or "postgresql")."""
    if value is None:
        return None
    if engine == "postgresql":
        if kind.name == "timestamp" and not kind.tz:
            return value.replace(tzinfo=None)
        return value
    if kind.name == "bool":
        return 1 if value else 0
    if kind.name == "decimal":
        return format(value, "f")
    if kind.name == "timestamp":
        # Django's SQLite layout: naive UTC, space separator; fixed microseconds so text sorts.
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    if kind.name == "date":
        return value.isoformat()
    return value


def text_of(value: Any, kind: Kind) -> str:
    """The checksum text of a canonical value; `pg_text_sql` computes the same inside PostgreSQL."""
    if value is None:
        return NULL_TEXT
    name = kind.name
    if name == "bool":
        return "1" if value else "0"
    if name == "decimal":
        if value == 0:
            value = abs(value)
        if kind.scale is None:
            value = value.normalize()
            if value == value.to_integral_value():
                value = value.quantize(Decimal(1))
        return format(value, "f")
    if name == "timestamp":
        return (
            f"{value.year:04d}-{value.month:02d}-{value.day:02d}T"
            f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
        )
    if name == "date":
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    if name == "float":
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    if name == "bytes":
        return bytes(value).hex()
    return str(value)


def pg_text_sql(column: str, kind: Kind) -> str:
    """SQL text expression for a (quoted) PostgreSQL column, NULL-safe, matching `text_of`."""
    name = kind.name
    if name == "bool":
        expr = f"CASE WHEN {column} THEN '1' WHEN NOT {column} THEN '0' END"
    elif name == "decimal":
        expr = (
            f"trim_scale({column}::numeric)::text"
            if kind.scale is None
            else f"round({column}::numeric, {kind.scale})::text"
        )
    elif name == "timestamp":
        utc = f"({column} AT TIME ZONE 'UTC')" if kind.tz else column
        expr = f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    elif name == "date":
        expr = f"to_char({column}, 'YYYY-MM-DD')"
    elif name == "bytes":
        expr = f"encode({column}, 'hex')"
    else:
        expr = f"{column}::text"
    return f"coalesce({expr}, '{NULL_TEXT}')"


def pg_row_text_sql(columns: list[tuple[str, Kind]]) -> str:
    return " || chr(31) || ".join(pg_text_sql(col, kind) for col, kind in columns)


@lru_cache(maxsize=64)
def kinds_from_codes(codes: str) -> tuple[Kind, ...]:
    kinds = []
    for code in codes.split(","):
        if code.startswith("d") and code != "dt":
            kinds.append(Kind("decimal", scale=int(code[1:]) if code[1:] else None))
        else:
            name = {"i": "int", "f": "float", "t": "text", "b": "bool", "ts": "timestamp", "dt": "date", "x": "bytes"}[
                code
            ]
            kinds.append(Kind(name))  # type: ignore[arg-type]
    return tuple(kinds)


def row_text(codes: str, values: tuple[Any, ...]) -> str:
    """The checksum text of one row read from SQLite (registered as an SQL function there).

    Called once per row, so each column uses a fast path for the way SQLite usually stores its kind; anything
    else goes the general way (`text_of(canonical(...))`), which the fast paths are tested to agree with.
    """
    texters = _texters(codes)
    try:
        return FIELD_SEPARATOR.join([f(v) for f, v in zip(texters, values, strict=True)])
    except (ValueError, InvalidOperation, TypeError, AttributeError) as exc:
        # A value that does not parse as its kind must still make the row differ, not crash verify.
        return f"unparseable:{exc}:" + FIELD_SEPARATOR.join(map(str, values))


Texter = Callable[[Any], str]


@lru_cache(maxsize=64)
def _texters(codes: str) -> tuple[Texter, ...]:
    return tuple(_texter(kind) for kind in kinds_from_codes(codes))


def _texter(kind: Kind) -> Texter:
    def general(value: Any) -> str:
        return text_of(canonical(value, kind), kind)

    name = kind.name
    if name == "int":
        return lambda v: str(v) if type(v) is int else general(v)
    if name == "text":
        return lambda v: v if type(v) is str else general(v)
    if name == "bool":
        return lambda v: ("1" if v else "0") if type(v) is int else general(v)
    if name == "timestamp":

        def timestamp(v: Any) -> str:
            # Django's layout, naive UTC: "YYYY-MM-DD HH:MM:SS.ffffff" (or without the fraction).
            if type(v) is str and len(v) in (19, 26) and v[10] == " " and (len(v) == 19 or v[19] == "."):
                return v[:10] + "T" + v[11:] + (".000000" if len(v) == 19 else "")
            return general(v)

        return timestamp
    if name == "decimal" and kind.scale is not None:
        scale = kind.scale

        def decimal(v: Any) -> str:
            if type(v) is float and v != 0:
                text = repr(v)
                whole, _, fraction = text.partition(".")
                if "e" not in text and "n" not in text and len(fraction) <= scale:
                    return whole + ("." + fraction.ljust(scale, "0") if scale else "")
            elif type(v) is int and v != 0:
                return f"{v}." + "0" * scale if scale else str(v)
            return general(v)

        return decimal
    return general
