"""Bulk row writers for the seed: PostgreSQL gets COPY, every other engine batched multi-row INSERTs.

Rows are plain tuples in the order of `fields`, ids included, so that rows of one table can point at rows of
another without a round trip. Callers reset the id sequences afterwards (`reset_sequences`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any

from django.core.management.color import no_style
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

INSERT_BATCH = 2000


class TableWriter:
    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection
        self.copy = connection.vendor == "postgresql"

    def write(self, model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        opts = model._meta
        quote = self.connection.ops.quote_name
        table = quote(opts.db_table)
        columns = ", ".join(quote(opts.get_field(name).column) for name in fields)
        if self.copy:
            return self._copy(table, columns, rows)
        datetimes = [i for i, name in enumerate(fields) if isinstance(opts.get_field(name), models.DateTimeField)]
        return self._insert(table, columns, len(fields), rows, datetimes)

    def _copy(self, table: str, columns: str, rows: Iterable[Sequence[Any]]) -> int:
        written = 0
        with self.connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                written += 1
        return written

    def _insert(self, table: str, columns: str, width: int, rows: Iterable[Sequence[Any]], datetimes: list[int]) -> int:
        # SQLite stores naive UTC text; Django's own writes convert the same way.
        sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * width)})"  # noqa: S608 - names quoted
        written = 0
        iterator = iter(rows)
        with self.connection.cursor() as cursor:
            while batch := list(islice(iterator, INSERT_BATCH)):
                if datetimes:
                    batch = [_naive_utc(row, datetimes) for row in batch]
                cursor.executemany(sql, batch)
                written += len(batch)
        return written


def _naive_utc(row: Sequence[Any], positions: list[int]) -> list[Any]:
    out = list(row)
    for i in positions:
        value = out[i]
        if value is not None:
            out[i] = value.astimezone(dt.UTC).replace(tzinfo=None)
    return out


def next_id(model: type[models.Model]) -> int:
    last = model._default_manager.order_by("-pk").values_list("pk", flat=True).first()
    return (last or 0) + 1


def reset_sequences(connection: BaseDatabaseWrapper, model_list: Sequence[type[models.Model]]) -> None:
    """Point each table's id sequence past the ids the seed chose itself."""
    statements = connection.ops.sequence_reset_sql(no_style(), list(model_list))
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
