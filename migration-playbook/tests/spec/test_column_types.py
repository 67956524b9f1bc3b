from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strangler_playbook.spec.column_types import Kind, bind_value, canonical, parse_kind, pg_text_sql, row_text, text_of

CASES = [
    (Kind("bool"), "true", [1, "1", True, "t"]),
    (Kind("bool"), "false", [0, "0", False, "f"]),
    (Kind("decimal", scale=2), "12.5::numeric(12,2)", [12.5, "12.50", Decimal("12.5"), 12.5000001]),
    (Kind("decimal", scale=2), "0::numeric(12,2)", [0, 0.0, "-0.00"]),
    (Kind("decimal"), "100.000::numeric", [100, "100", "1E+2"]),
    (
        Kind("timestamp"),
        "timestamptz '2025-03-04 07:06:07.000120+02'",
        ["2025-03-04 05:06:07.00012", "2025-03-04T05:06:07.000120+00:00", datetime(2025, 3, 4, 5, 6, 7, 120)],
    ),
    (Kind("timestamp"), "timestamptz '2025-03-04 05:06:07+00'", ["2025-03-04 05:06:07"]),
    (Kind("date"), "date '2025-03-04'", ["2025-03-04", "2025-03-04 00:00:00"]),
    (Kind("text"), "'ünï|x\ty'::varchar", ["ünï|x\ty"]),
    (Kind("int"), "42::bigint", [42, "42", 42.0]),
]


@pytest.mark.parametrize(("kind", "pg_literal", "sqlite_values"), CASES)
def test_postgres_and_sqlite_representations_of_a_value_normalise_to_the_same_text(
    pg_server: str, kind: Kind, pg_literal: str, sqlite_values: list[object]
) -> None:
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'Europe/Paris'")  # the SQL must not depend on the session's zone
        pg_text, pg_value = conn.execute(
            f"SELECT {pg_text_sql('v', kind)}, v FROM (SELECT {pg_literal} AS v) s"
        ).fetchone()
    assert text_of(canonical(pg_value, kind), kind) == pg_text
    for value in sqlite_values:
        assert text_of(canonical(value, kind), kind) == pg_text, value


def test_null_is_one_marker_on_both_sides(pg_server: str) -> None:
    with psycopg.connect(pg_server) as conn:
        assert conn.execute(f"SELECT {pg_text_sql('NULL::boolean', Kind('bool'))}").fetchone()[0] == "\\N"
    assert text_of(canonical(None, Kind("bool")), Kind("bool")) == "\\N"


def test_values_written_to_sqlite_look_like_what_django_writes() -> None:
    stamp = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=2)))
    assert bind_value(canonical(stamp, Kind("timestamp")), Kind("timestamp"), "sqlite") == "2025-03-04 03:06:07.000000"
    assert bind_value(True, Kind("bool"), "sqlite") == 1
    assert bind_value(Decimal("1.50"), Kind("decimal", 2), "sqlite") == "1.50"
    assert bind_value(stamp.astimezone(UTC), Kind("timestamp"), "postgresql") == stamp


@pytest.mark.parametrize(
    ("declared", "kind"),
    [
        ("bool", Kind("bool")),
        ("boolean", Kind("bool")),
        ("decimal", Kind("decimal")),
        ("numeric(12,2)", Kind("decimal", scale=2)),
        ("datetime", Kind("timestamp")),
        ("timestamp with time zone", Kind("timestamp")),
        ("timestamp without time zone", Kind("timestamp", tz=False)),
        ("integer", Kind("int")),
        ("bigint", Kind("int")),
        ("varchar(64)", Kind("text")),
        ("character varying(64)", Kind("text")),
        ("date", Kind("date")),
    ],
)
def test_declared_types_of_both_engines_map_to_kinds(declared: str, kind: Kind) -> None:
    assert parse_kind(declared) == kind


@given(
    st.one_of(
        st.integers(-(10**12), 10**12).map(lambda cents: cents / 100),
        st.integers(-(10**9), 10**9),
        st.floats(allow_nan=False, allow_infinity=False, width=64),
        st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    ),
    st.sampled_from([0, 2, 4]),
)
def test_the_fast_sqlite_decimal_text_agrees_with_the_general_one(value: object, scale: int) -> None:
    kind = Kind("decimal", scale=scale)
    assert row_text(kind.code, (value,)) == text_of(canonical(value, kind), kind)


@given(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 1, 1)))
def test_the_fast_sqlite_timestamp_text_agrees_with_the_general_one(stamp: datetime) -> None:
    kind = Kind("timestamp")
    for stored in (str(stamp), stamp.isoformat(sep=" ", timespec="microseconds"), stamp.isoformat()):
        assert row_text(kind.code, (stored,)) == text_of(canonical(stored, kind), kind)


@given(st.one_of(st.integers(), st.booleans(), st.text(), st.none()))
def test_the_fast_sqlite_text_of_ints_texts_and_booleans_agrees_with_the_general_one(value: object) -> None:
    for kind in (Kind("int"), Kind("text"), Kind("bool")):
        try:
            expected = text_of(canonical(value, kind), kind)
        except ValueError:
            continue
        assert row_text(kind.code, (value,)) == expected
