"""Geometry in and out of the database, and spatial filters that use the spatial index on both engines.

Writes pass WKB with the SRID (``ST_GeomFromWKB(:wkb, :srid)``; bulk loads pass EWKB in PostgreSQL's binary
``COPY`` and, on SpatiaLite, its own blobs: :mod:`cadastre.store.spatialite_blob`); reads return WKB
(``ST_AsBinary``) that :func:`read_frame` turns into a GeoDataFrame in one vectorised call. PostGIS uses its GiST
index for ``&&`` and ``ST_Intersects`` by itself; SpatiaLite needs the R*Tree joined explicitly through its
``SpatialIndex`` virtual table, which :func:`index_filter` writes.
"""

from __future__ import annotations

import struct
from contextlib import ExitStack
from datetime import UTC, datetime
from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from cadastre.core import jsontext
from cadastre.store.engine import driver_cursor, translate

__all__ = ["to_wkb", "driver_statement", "query_records", "query_records_together", "query_records_together_async",
           "driver_frame", "query_frame", "result_frame", "read_frame", "id_set", "id_values", "index_filter",
           "geometry_param", "envelope", "ONE_PART_OF"]


#: the single part a collection column also takes, stored as a one-part collection of it (a non-empty Polygon in a
#: MULTIPOLYGON column); keyed by the collection, whose shapely type id is also its 2D WKB type code
ONE_PART_OF = {shapely.GeometryType.MULTIPOLYGON: shapely.GeometryType.POLYGON,
               shapely.GeometryType.MULTILINESTRING: shapely.GeometryType.LINESTRING}
_EWKB_SRID = 0x20000000  # the type's flag for an SRID after it (PostGIS's extended WKB)


def to_wkb(geometries, *, multi: bool = False, srid: int | None = None) -> list[bytes | None]:
    """WKB of each geometry (2D, little-endian), None for missing ones, in one vectorised call; with ``srid``,
    extended WKB carrying it (PostGIS's ``COPY``).

    ``multi``: a non-empty Polygon or LineString is written as the one-part MultiPolygon / MultiLineString
    (:data:`ONE_PART_OF`) that shapely would make of it — the collection's header, then the part's own WKB: the
    very bytes shapely writes for the collection — without making the collection (or, with ``srid``, a copy
    of every geometry to carry it): 200 000 units 0.70 s made and written, 0.22 s written so."""
    geoms = np.asarray(geometries, dtype=object)
    wrapped = {}  # collection type → the positions of the single parts written as one
    if multi:
        kinds, solid = shapely.get_type_id(geoms), ~shapely.is_empty(geoms)
        wrapped = {int(collection): np.flatnonzero((kinds == single) & solid)
                   for collection, single in ONE_PART_OF.items()}
    if srid is None:
        out = shapely.to_wkb(geoms, output_dimension=2, include_srid=False, byte_order=1).tolist()
    else:  # the others (collections already, or of another kind) through shapely with the SRID
        out = [None] * len(geoms)
        rest = ~shapely.is_missing(geoms)
        for positions in wrapped.values():
            rest[positions] = False
        rest = np.flatnonzero(rest)
        extended = shapely.to_wkb(shapely.set_srid(geoms[rest], srid), output_dimension=2, include_srid=True,
                                  byte_order=1).tolist()
        for k, wkb in zip(rest.tolist(), extended, strict=True):
            out[k] = wkb
    for collection, positions in wrapped.items():
        header = (struct.pack("<BII", 1, collection, 1) if srid is None else
                  struct.pack("<BIiI", 1, collection | _EWKB_SRID, srid, 1))  # the part carries no SRID
        parts = shapely.to_wkb(geoms[positions], output_dimension=2, include_srid=False, byte_order=1).tolist() \
            if srid is not None else [out[k] for k in positions.tolist()]
        for k, wkb in zip(positions.tolist(), parts, strict=True):
            out[k] = header + wkb
    return out


def geometry_param(name: str = "wkb", srid_param: str = "srid", *, multi: bool = False) -> str:
    expression = f"ST_GeomFromWKB(:{name}, :{srid_param})"
    return f"ST_Multi({expression})" if multi else expression


#: a statement's text clause, made once: ``sa.text`` scans the SQL for bound parameters with a regular expression
#: on every call, a tenth of a point lookup's time outside the database
_text = lru_cache(maxsize=1024)(sa.text)


@lru_cache(maxsize=1024)
def driver_statement(dialect: sa.Dialect, sql: str) -> tuple[str, tuple[str, ...] | None]:
    """``sql`` (``:name`` parameters) as the driver takes it, compiled once by SQLAlchemy (which also escapes what
    the driver's parameter style requires): its text, and the parameters' names in order for a positional style
    (SQLite's ``?``), None for a named one (psycopg's ``%(name)s``)."""
    compiled = _text(sql).compile(dialect=dialect)
    return compiled.string, tuple(compiled.positiontup) if compiled.positiontup else None


def _driver_rows(connection: Connection, sql: str, params: dict) -> tuple[list[str], list[tuple]]:
    statement, names = driver_statement(connection.dialect, sql)
    with driver_cursor(connection) as cursor:
        cursor.execute(statement, [params[name] for name in names] if names is not None else params)
        return [d[0] for d in cursor.description], cursor.fetchall()


def query_records(connection: Connection, sql: str, **params) -> list[dict]:
    """Run ``sql`` with bound ``params`` and return its rows as dicts: for point lookups, where building a
    DataFrame would cost ten times the query.

    Through the driver's cursor, inside the connection's transaction if the caller began one (a card's queries
    are read in one, so that they see one state: ``Registry.parcel``): SQLAlchemy's execution path (cache key,
    result metadata, events) cost a parcel card's three queries 0.6 ms on top of their 0.35 ms in SQLite.
    The statements take plain values (no types to process on the way in or out, as ``sa.text`` has none);
    driver errors are translated as the engine's own handler translates them (:func:`driver_cursor`)."""
    return _records(*_driver_rows(connection, sql, params))


def _records(columns: list[str], rows: list[tuple]) -> list[dict]:
    return [dict(zip(columns, row, strict=True)) for row in rows]


def query_records_together(connection: Connection, *queries: tuple[str, dict]) -> list[list[dict]]:
    """Several statements that do not depend on each other, each ``(sql, params)``, run as :func:`query_records`
    runs one; their rows in order. On PostgreSQL they go out together and their results come back together, in
    one round trip (psycopg's pipeline mode): a parcel card's three queries waited for three, each costing the
    card more than the query's own work. On SQLite, in-process, one after the other."""
    if connection.dialect.name != "postgresql":
        return [query_records(connection, sql, **params) for sql, params in queries]
    with ExitStack() as cursors:  # each the driver's own, its errors translated (driver_cursor)
        sent = [cursors.enter_context(driver_cursor(connection)) for _ in queries]
        with connection.connection.driver_connection.pipeline():
            for cursor, (sql, params) in zip(sent, queries, strict=True):
                cursor.execute(driver_statement(connection.dialect, sql)[0], params)
        return [_records([d[0] for d in cursor.description], cursor.fetchall()) for cursor in sent]


async def query_records_together_async(connection: AsyncConnection, *queries: tuple[str, dict]) -> list[list[dict]]:
    """:func:`query_records_together` on an event loop, over a PostgreSQL connection of
    :func:`~cadastre.store.engine.async_lookup_engine`: the statements go out together through psycopg's
    ``AsyncConnection`` and the loop serves other requests while they run; driver errors translated as
    :func:`~cadastre.store.engine.driver_cursor` translates them, and a connection that failed as a connection
    (the server restarted, the network) invalidated, so that the pool never lends it again."""
    import psycopg

    driver = (await connection.get_raw_connection()).driver_connection
    sent = [driver.cursor() for _ in queries]
    try:
        async with driver.pipeline():
            for cursor, (sql, params) in zip(sent, queries, strict=True):
                await cursor.execute(driver_statement(connection.dialect, sql)[0], params)
        return [_records([d[0] for d in cursor.description], await cursor.fetchall()) for cursor in sent]
    except psycopg.Error as e:
        if isinstance(e, psycopg.OperationalError):
            await connection.invalidate()
        raise translate(e) or e from None
    finally:
        for cursor in sent:
            await cursor.close()


def driver_frame(connection: Connection, sql: str, **params) -> pd.DataFrame:
    """Like :func:`query_records`, for many rows: a DataFrame built column by column from the driver's rows
    (SQLAlchemy's Row objects cost as much again as the query: 40 800 units, 0.3 s)."""
    return _frame(*_driver_rows(connection, sql, params))


def query_frame(connection: Connection, sql: str, **params) -> pd.DataFrame:
    """Run ``sql`` with bound ``params`` and return its rows as a DataFrame (columns in select order)."""
    return result_frame(connection.execute(_text(sql), params))


def result_frame(result) -> pd.DataFrame:
    """A result's rows as a DataFrame, built column by column (from Row objects pandas probes each row's
    attributes: ten times slower on 10^4 rows)."""
    return _frame(list(result.keys()), result.fetchall())


def _frame(columns: list[str], rows: list) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(columns=columns)  # object columns, as before (empty lists would make them float)
    return pd.DataFrame(dict(zip(columns, (list(c) for c in zip(*rows, strict=True)), strict=True)), columns=columns)


def id_set(connection: Connection, name: str) -> str:
    """SQL for a set of ids bound as the one parameter ``name`` (its value from :func:`id_values`): one statement
    and one parameter for any number of ids, where an expanding ``IN`` binds a parameter per id (SQLite takes
    32 766) and a statement per id costs a round trip or a step each (ending 40 800 pre-sale units)."""
    if connection.dialect.name == "postgresql":
        return f"(SELECT unnest(CAST(:{name} AS bigint[])))"
    return f"(SELECT value FROM json_each(:{name}))"


def id_values(connection: Connection, ids) -> list[int] | str:
    """The value of an :func:`id_set` parameter: an array for PostgreSQL, JSON text for SQLite."""
    ids = [int(i) for i in ids]
    return ids if connection.dialect.name == "postgresql" else jsontext.dumps(ids)


def aware(value):
    """One time read from either engine as an aware UTC datetime (SQLite gives text or naive datetimes back);
    None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def utc_times(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """``columns`` as UTC timestamps on both engines (SQLite hands text queries' times back as text, and naive;
    PostgreSQL as aware datetimes): what analysts compare and plot."""
    for column in columns:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


def read_frame(connection: Connection, sql: str | sa.TextClause, params: dict | None = None, *, srid: int,
               geometry_column: str = "wkb") -> gpd.GeoDataFrame:
    """Run ``sql`` (which selects ``ST_AsBinary(geom) AS wkb``) and return a GeoDataFrame in ``srid``."""
    frame = result_frame(connection.execute(sa.text(sql) if isinstance(sql, str) else sql, params or {}))
    wkb = frame.pop(geometry_column).to_numpy(dtype=object) if len(frame) else np.array([], dtype=object)
    wkb = np.array([None if w is None else bytes(w) for w in wkb], dtype=object)
    return gpd.GeoDataFrame(frame, geometry=shapely.from_wkb(wkb), crs=srid)


def index_filter(connection: Connection, table: str, alias: str, search_frame: str) -> str:
    """A SQL condition keeping rows of ``table`` (as ``alias``) whose bounding box meets ``search_frame``
    (a SQL geometry expression), through the spatial index."""
    if not (table.isidentifier() and alias.isidentifier()):
        raise ValueError("table and alias must be identifiers")
    if connection.dialect.name == "sqlite":
        return (f"{alias}.rowid IN (SELECT rowid FROM SpatialIndex WHERE f_table_name = '{table}' "
                f"AND f_geometry_column = 'geom' AND search_frame = {search_frame})")
    return f"{alias}.geom && {search_frame}"


def envelope(connection: Connection) -> str:
    """SQL for a rectangle from ``:minx, :miny, :maxx, :maxy`` and ``:srid`` on either engine."""
    function = "BuildMbr" if connection.dialect.name == "sqlite" else "ST_MakeEnvelope"
    return f"{function}(:minx, :miny, :maxx, :maxy, :srid)"
