"""Rows in bulk: a table's columns given as whole arrays, written in one statement inside the caller's transaction.

PostgreSQL: binary ``COPY`` built column by column (:mod:`cadastre.store.pgcopy`), in chunks handed to a sending
thread so the server loads one chunk while the next is built. SQLite: one ``executemany`` of tuples straight to
the driver (SQLAlchemy's per-row parameter handling costs as much as SQLite's insert), a column that holds one
value in every row written into the statement instead (:func:`sqlite_insert`). A key refused is
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

__all__ = ["insert_columns", "sqlite_insert", "sqlite_values"]

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
    if connection.dialect.name == "postgresql":
        quoted = ", ".join(connection.dialect.identifier_preparer.quote(name) for name in names)  # finding.limit
        _copy(connection, table, quoted, names, columns, types, n, srid=srid, multi=multi)
        return
    sqlite_insert(connection, table, {name: ("?", [sqlite_values(connection, columns[name], types[name].type)])
                                      for name in names})


def sqlite_insert(connection: Connection, table: str, columns: dict[str, tuple[str, list[list]]]) -> None:
    """One SQLite ``executemany`` of ``INSERT INTO table``: each column given as its SQL expression with ``?``
    marks and one list of driver values per mark (``("?", [values])``, or ``("coalesce(?, GeomFromWKB(?, 4490))",
    [blobs, wkb])``), all lists equally long (the rows).

    A list holding one value in every row (an integer, a text, NULL) is written into the statement as a literal
    and not bound per row: the driver binds each parameter of each row from Python (~0.2 µs), which for the 31
    columns of a unit costs more than SQLite's insert itself, and a survey's rows share many values (their
    package, stage and time; the columns a survey leaves empty). Floats and blobs are always bound: a float's
    text parsed back by SQLite is not promised to be the same double.

    When one list alone varies and holds texts or integers (a W code's 40 800 successors, a survey's new codes),
    the rows go in as one statement over that list as a JSON array (``SELECT … FROM json_each(?)``): SQLite then
    inserts them all in one step, and the driver holds no Python lock meanwhile (a statement another thread can
    overlap with its own work: ``store.engine.meanwhile``)."""
    expressions, bound = [], []
    n = None
    for sql, lists in columns.values():
        parts = sql.split("?")
        if len(parts) != len(lists) + 1:
            raise ValueError(f"{table}: {sql!r} has {len(parts) - 1} parameters, given {len(lists)} lists")
        out = [parts[0]]
        for values, rest in zip(lists, parts[1:], strict=True):
            if n is None:
                n = len(values)
            elif len(values) != n:
                raise ValueError(f"{table}: columns of different lengths ({len(values)}, {n})")
            literal = _shared_literal(values)
            if literal is None:
                bound.append(values)
            out += [literal or _BOUND, rest]
        expressions.append(out)
    if not n:
        return
    quoted = ", ".join(connection.dialect.identifier_preparer.quote(name) for name in columns)
    if len(bound) == 1 and _json_exact(bound[0]):
        selected = ", ".join("".join("value" if part is _BOUND else part for part in out) for out in expressions)
        connection.exec_driver_sql(f"INSERT INTO {table} ({quoted}) SELECT {selected} FROM json_each(?)",
                                   (jsontext.dumps(bound[0]),))
        return
    values = ", ".join("".join("?" if part is _BOUND else part for part in out) for out in expressions)
    rows = list(zip(*bound, strict=True)) if bound else [()] * n
    connection.exec_driver_sql(f"INSERT INTO {table} ({quoted}) VALUES ({values})", rows)


_BOUND = object()  # where a bound value goes in a column's expression


def _json_exact(values: list) -> bool:
    """Whether ``values`` come back from a JSON array through ``json_each`` as the driver would have bound them:
    texts (no NUL, valid UTF-8) or integers (64-bit, as a literal is), with NULLs among them."""
    kinds = set(map(type, values)) - {type(None)}
    if kinds == {str}:
        return _exact_text("".join(v for v in values if v is not None))
    if kinds == {int}:
        present = [v for v in values if v is not None]
        return _INT64[0] <= min(present) and max(present) <= _INT64[1]
    return False


_INT64 = (-(2 ** 63) + 1, 2 ** 63 - 1)  # -2**63 written out reads back as a float (its positive half overflows)


def _shared_literal(values: list) -> str | None:
    """The SQL literal of the value every element of ``values`` holds, when it is one SQLite reads back as the
    driver would have bound it (NULL, an integer, a text without NUL); else None."""
    if not values:
        return None
    first = values[0]
    if first is None:
        return "NULL" if values.count(None) == len(values) else None
    kind = type(first)
    if kind is int and _INT64[0] <= first <= _INT64[1]:
        literal = str(first)
    elif kind is str and len(first) <= 1000 and _exact_text(first):
        literal = "'" + first.replace("'", "''") + "'"
    else:
        return None
    # equal values of another type (1 == 1.0 == True) would be written as this one
    if values.count(first) != len(values) or len(set(map(type, values))) != 1:
        return None
    return literal


def sqlite_values(connection: Connection, values, column_type: sa.types.TypeEngine) -> list:
    """A column as the values SQLite's driver takes: None for anything missing, plain ints and floats, JSON as
    text, times as the text SQLAlchemy writes for ``DateTime(timezone=True)`` (so they read back the same)."""
    if isinstance(column_type, sa.JSON):
        return [None if v is None else jsontext.dumps(v) for v in values]
    if isinstance(column_type, sa.DateTime):  # usually one time for the whole column: each converted once
        stamps = {v: driver_time(connection, v) for v in set(values) if v is not None}
        return [None if v is None else stamps[v] for v in values]
    plain = _plain_column(values)
    return plain if plain is not None else pgcopy.arrow_column(values).to_pylist()


def _plain_column(values) -> list | None:
    """The two commonest columns as the driver's values without a round trip through Arrow (which the others
    take): all text, or all floats (NaN: NULL, as Arrow reads it). The as-built accept's 28 columns of 40 800 rows:
    85 → 49 ms. None for any other column."""
    if not isinstance(values, np.ndarray | list) or not len(values):
        return None
    kinds = set(map(type, values))
    if kinds == {str}:
        return list(values) if isinstance(values, list) else values.tolist()
    if kinds == {float}:
        shown = np.array(values, dtype=object)
        shown[np.isnan(shown.astype(float))] = None
        return shown.tolist()
    return None


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


def _exact_text(text: str) -> bool:
    """Whether SQLite reads ``text`` back, written out in SQL or JSON, as the driver would have bound it: no NUL
    (SQL text ends there), valid UTF-8 (a lone surrogate is left to the driver, which refuses it as it would anyway)."""
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
