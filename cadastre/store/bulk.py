"""Rows in bulk: a table's columns given as whole arrays, written in one statement inside the caller's transaction.

PostgreSQL: binary ``COPY`` built column by column (:mod:`cadastre.store.pgcopy`), in chunks handed to a sending
thread so the server loads one chunk while the next is built. SQLite: one ``executemany`` of tuples straight to
the driver (SQLAlchemy's per-row parameter handling costs as much as SQLite's insert). A key refused is
:class:`sqlalchemy.exc.IntegrityError` on both. Geometry columns go through PostgreSQL's path only; SQLite's
geometry rows need SpatiaLite's triggers handled (:func:`cadastre.store.registry_rows.insert_rows`).
"""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cadastre.core import jsontext
from cadastre.store import pgcopy
from cadastre.store.engine import driver_cursor, driver_time
from cadastre.store.models import Base

__all__ = ["insert_columns", "sqlite_values"]

_COPY_CHUNK = 100_000


def insert_columns(connection: Connection, table: str, columns: dict[str, object], *, srid: int | None = None,
                   multi: bool = False) -> None:
    """One row per element of the equally long ``columns`` (name → values; None / NaN / NaT are NULL), the
    values encoded for each column's type as SQLAlchemy would (JSON as :mod:`cadastre.core.jsontext` writes it,
    times as the engine stores them); geometries (PostgreSQL only) with ``srid``, single parts as one-part
    collections when ``multi``."""
    n = len(next(iter(columns.values()))) if columns else 0
    if n == 0:
        return
    types = Base.metadata.tables[table].columns
    names = list(columns)
    quoted = ", ".join(connection.dialect.identifier_preparer.quote(name) for name in names)  # finding.limit
    if connection.dialect.name == "postgresql":
        _copy(connection, table, quoted, names, columns, types, n, srid=srid, multi=multi)
        return
    rows = list(zip(*(sqlite_values(connection, columns[name], types[name].type) for name in names), strict=True))
    connection.exec_driver_sql(f"INSERT INTO {table} ({quoted}) VALUES ({', '.join('?' * len(names))})", rows)


def sqlite_values(connection: Connection, values, column_type: sa.types.TypeEngine) -> list:
    """A column as the values SQLite's driver takes: None for anything missing, plain ints and floats, JSON as
    text, times as the text SQLAlchemy writes for ``DateTime(timezone=True)`` (so they read back the same)."""
    if isinstance(column_type, sa.JSON):
        return [None if v is None else jsontext.dumps(v) for v in values]
    if isinstance(column_type, sa.DateTime):  # usually one time for the whole column: each converted once
        stamps = {v: driver_time(connection, v) for v in set(values) if v is not None}
        return [None if v is None else stamps[v] for v in values]
    return pgcopy.arrow_column(values).to_pylist()


def _copy(connection: Connection, table: str, quoted: str, names: list[str], columns: dict[str, object], types,
          n: int, *, srid: int | None, multi: bool) -> None:
    import psycopg
    from psycopg.copy import QueuedLibpqWriter

    values = {name: v if isinstance(v, np.ndarray) else np.asarray(v, dtype=object) for name, v in columns.items()}
    try:
        with driver_cursor(connection) as cursor, cursor.copy(
                f"COPY {table} ({quoted}) FROM STDIN WITH (FORMAT binary)",
                writer=QueuedLibpqWriter(cursor)) as copy:
            for start in range(0, n, _COPY_CHUNK):
                part = slice(start, start + _COPY_CHUNK)
                fields = [pgcopy.field(values[name][part], types[name].type, srid=srid, multi=multi)
                          for name in names]
                copy.write(pgcopy.copy_data(fields, header=start == 0, trailer=start + _COPY_CHUNK >= n).tobytes())
    except psycopg.IntegrityError as e:
        raise sa.exc.IntegrityError(f"COPY {table}", None, e) from None
