"""Writing accepted survey data: parcels, boundary points and lines, buildings, floors, units; issuing, retiring and
linking codes. Bulk statements only (one ``executemany`` per table), inside the caller's transaction."""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from datetime import datetime

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cadastre.core.codes import prefix_range
from cadastre.core.errors import AllocationError, DatabaseError
from cadastre.store import bulk, rtree, spatialite_blob
from cadastre.store.engine import driver_cursor, driver_time
from cadastre.store.models import Base
from cadastre.store.spatial import (
    ONE_PART_OF,
    driver_frame,
    driver_statement,
    id_set,
    id_values,
    read_frame,
    result_frame,
    to_wkb,
)

__all__ = ["insert_rows", "issue_codes", "retire_codes", "end_rows", "current_units", "current_buildings",
           "current_parcels", "parcel_row", "issued_building_numbers", "code_retired", "end_floors"]

_TS = sa.DateTime(timezone=True)


def insert_rows(connection: Connection, table: str, columns: dict[str, object], geometry, srid: int, *,
                package_id: int, now: datetime, multi: bool = True) -> list[int]:
    """Insert one row per element of the column arrays (and ``geometry``), current from ``now``; returns the ids.

    Ids are reserved first (a PostgreSQL sequence, or SQLite's next rowids under the write lock the transaction
    holds) and written explicitly, so nothing has to be read back. Then the bulk path of each engine: PostgreSQL
    binary ``COPY`` built column by column (:mod:`cadastre.store.pgcopy`); SQLite one ``executemany`` with SpatiaLite's per-row
    triggers suspended inside the transaction (see :func:`_sqlite_insert`).
    """
    n = len(next(iter(columns.values()))) if columns else len(geometry)
    if n == 0:
        return []
    geoms = np.asarray(geometry if geometry is not None else [None] * n, dtype=object)
    _check_kind(table, geoms, multi=multi)  # single parts are written as one-part collections (spatial.to_wkb)
    ids = _reserve_ids(connection, table, n)
    if connection.dialect.name == "postgresql":
        _copy(connection, table, ids, columns, geoms, srid, package_id, now, multi=multi)
    else:
        _sqlite_insert(connection, table, ids, columns, geoms, srid, package_id, now, multi=multi)
    return ids


def _check_kind(table: str, geoms: np.ndarray, *, multi: bool) -> None:
    """Every geometry is of the column's kind, or (``multi``) a non-empty single part of it, stored as a one-part
    collection (the database would refuse anything else too, but in the middle of a bulk load)."""
    kind = Base.metadata.tables[table].columns["geom"].type.geometry_type
    present = ~shapely.is_missing(geoms)
    types = shapely.get_type_id(geoms)
    fits = types == getattr(shapely.GeometryType, kind)
    single = ONE_PART_OF.get(getattr(shapely.GeometryType, kind))
    if multi and single is not None:
        fits |= (types == single) & ~shapely.is_empty(geoms)
    wrong = present & ~fits
    if wrong.any():
        found = shapely.get_type_id(geoms[np.flatnonzero(wrong)[0]])
        raise DatabaseError(f"{table}.geom 只能存放 {kind}，有 {int(wrong.sum())} 个几何不是（如 "
                            f"{shapely.GeometryType(found).name}）",
                            f"{table}.geom takes {kind} only; {int(wrong.sum())} geometries are not")


def _reserve_ids(connection: Connection, table: str, n: int) -> list[int]:
    if connection.dialect.name == "postgresql":
        # n values from the sequence in one statement; usually one unbroken run, which is all we need to fetch,
        # but a concurrent writer may interleave, and then every value is fetched. The sequence is named first:
        # pg_get_serial_sequence inside the statement runs once per row (2 s per million rows, ten times nextval)
        sequence = connection.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table}).scalar_one()
        values = "SELECT nextval(CAST(:s AS regclass)) AS v FROM generate_series(1, :n)"
        first, last = connection.execute(sa.text(f"SELECT min(v), max(v) FROM ({values}) s"),
                                         {"s": sequence, "n": n}).one()
        if last - first + 1 == n:
            return list(range(first, last + 1))
        return connection.execute(sa.text(values), {"s": sequence, "n": n}).scalars().all()
    # SQLite gives a new row max(rowid) + 1; the transaction holds the write lock (BEGIN IMMEDIATE), so nobody else
    # can take these, and rows are never deleted, so a rowid is never handed out twice
    start = connection.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar() + 1
    return list(range(start, start + n))


def _copy(connection: Connection, table: str, ids: list[int], columns: dict[str, object], geoms, srid, package_id,
          now, *, multi: bool) -> None:
    """PostgreSQL binary COPY (:func:`cadastre.store.bulk.insert_columns`) of the rows with their ids, geometry,
    package and start."""
    n = len(geoms)
    bulk.insert_columns(connection, table, {"id": np.asarray(ids, dtype=np.int64), **columns, "geom": geoms,
                                            "package_id": np.full(n, package_id, dtype=np.int64),
                                            "valid_from": np.full(n, now, dtype=object)}, srid=srid, multi=multi)


# SpatiaLite keeps these per geometry column: geometry type/SRID check (before insert), the layer's last-insert time
# and the R*Tree entry (after insert), each run once per row: ~30 s per million rows; and the last-update time
# (after any update: 30 µs a row ended)
_INSERT_TRIGGERS = ("ggi", "tmi", "gii")
_UPDATE_TRIGGERS = ("tmu",)


@contextmanager
def _row_triggers_suspended(connection: Connection, table: str, prefixes: tuple[str, ...], stamp_column: str):
    """SpatiaLite's per-row triggers ``prefixes`` on ``table.geom`` dropped for the block (their work done in bulk
    by the caller), the layer's ``stamp_column`` of geometry_columns_time written once, and the triggers restored
    before the transaction ends (SQLite DDL is transactional: a failure restores them too), so other programs
    editing the file keep them. Yields whether there were any (a table without SpatiaLite's triggers)."""
    triggers = connection.exec_driver_sql(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? AND name IN "
        f"({', '.join('?' * len(prefixes))})", (table, *(f"{prefix}_{table}_geom" for prefix in prefixes))).fetchall()
    for name, _ in triggers:
        connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
    yield bool(triggers)
    if triggers:
        connection.exec_driver_sql(f"UPDATE geometry_columns_time SET {stamp_column} = strftime('%Y-%m-%dT%H:%M:%fZ', "
                                   "'now') WHERE f_table_name = ? AND f_geometry_column = 'geom'", (table,))
        for _, sql in triggers:
            connection.exec_driver_sql(sql)


def _sqlite_insert(connection: Connection, table: str, ids: list[int], columns: dict[str, object], geoms, srid,
                   package_id, now, *, multi: bool) -> None:
    """One ``executemany`` with SpatiaLite's per-row insert triggers on ``table.geom`` suspended
    (:func:`_row_triggers_suspended`), and their work done in bulk instead: the geometry kind checked for the whole
    array (by :func:`insert_rows`), the R*Tree bulk loaded from bounds shapely computed
    (:mod:`cadastre.store.rtree`). Geometries of the common shapes go in as SpatiaLite's own blobs written in bulk
    (:mod:`cadastre.store.spatialite_blob`); the others as WKB through ``GeomFromWKB``."""
    n = len(geoms)
    # the timestamp is written as SQLAlchemy writes DateTime on SQLite, so it reads back the same
    stamp = driver_time(connection, now)
    types = Base.metadata.tables[table].columns
    data = {"id": ids, **{name: bulk.sqlite_values(connection, values, types[name].type)
                          for name, values in columns.items()}}
    bounds = shapely.bounds(geoms)  # NaN for a missing or empty geometry
    blobs = spatialite_blob.blobs(geoms, srid, multi=multi, bounds=bounds)
    wkb = [None] * n
    rest = np.flatnonzero((blobs == None) & ~shapely.is_missing(geoms))  # noqa: E711 (elementwise)
    for k, value in zip(rest.tolist(), to_wkb(geoms[rest], multi=multi), strict=True):
        wkb[k] = value
    with _row_triggers_suspended(connection, table, _INSERT_TRIGGERS, "last_insert") as suspended:
        # coalesce evaluates GeomFromWKB only for a row without a blob
        bulk.sqlite_insert(connection, table, {
            **{name: ("?", [values]) for name, values in data.items()},
            "geom": (f"coalesce(?, GeomFromWKB(?, {int(srid)}))", [blobs.tolist(), wkb]),
            "package_id": ("?", [[package_id] * n]), "valid_from": ("?", [[stamp] * n])})
        indexed = np.flatnonzero(~np.isnan(bounds[:, 0]))
        if suspended and len(indexed):  # the R*Tree's columns go x, x, y, y
            rtree.bulk_load(connection, f"idx_{table}_geom", np.asarray(data["id"], dtype=np.int64)[indexed],
                            bounds[indexed][:, [0, 2, 1, 3]])


def _driver_executemany(connection: Connection, sql: str, rows: list[dict]) -> None:
    """``sql`` (``:name`` parameters) once per row, through the driver's ``executemany``: SQLAlchemy's own
    executemany of a text statement builds each row's parameters in Python (40 800 issued codes: 2 s). The rows
    hold values the driver takes as they are (times: :func:`~cadastre.store.engine.driver_time`)."""
    statement, names = driver_statement(connection.dialect, sql)
    with driver_cursor(connection) as cursor:
        cursor.executemany(statement, [tuple(r[n] for n in names) for r in rows] if names is not None else rows)


def issue_codes(connection: Connection, codes: list[str], kind: str, package_id: int, now: datetime) -> None:
    """Record codes as issued. The primary key refuses any code issued before: a code is never reused."""
    if not codes:
        return
    n = len(codes)
    try:
        bulk.insert_columns(connection, "issued_code", {
            "code": np.asarray(codes, dtype=object), "kind": np.full(n, kind, dtype=object),
            "issued_at": np.full(n, now, dtype=object), "package_id": np.full(n, package_id, dtype=np.int64)})
    except sa.exc.IntegrityError:
        raise AllocationError("要发放的代码中有已发放过的代码（代码不得重复使用）",
                              "a code to issue was issued before (codes are never reused)") from None


def retire_codes(connection: Connection, retirements: list[tuple[str, list[str], str]], package_id: int,
                 now: datetime) -> None:
    """Retire codes with their successors: ``(old, [new …], reason)``; one lineage row per successor."""
    if not retirements:
        return
    connection.execute(sa.text("UPDATE issued_code SET retired_at = :now, retired_reason = :reason "
                               "WHERE code = :old AND retired_at IS NULL").bindparams(sa.bindparam("now", type_=_TS)),
                       [{"old": old, "reason": reason, "now": now} for old, _, reason in retirements])
    pairs = [(old, new, reason) for old, successors, reason in retirements for new in (successors or [None])]
    old_code, new_code, reasons = (np.asarray(column, dtype=object) for column in zip(*pairs, strict=True))
    # a parcel's W code retired for its 40 800 unit codes: a lineage row each
    bulk.insert_columns(connection, "code_lineage", {
        "old_code": old_code, "new_code": new_code, "reason": reasons,
        "package_id": np.full(len(pairs), package_id, dtype=np.int64),
        "created_at": np.full(len(pairs), now, dtype=object)})


def end_rows(connection: Connection, table: str, ids: list[int], reason: str, now: datetime) -> None:
    """End current rows (history kept): ``valid_to`` and the reason; one statement for any number of rows."""
    if len(ids):
        with _updates_stamped_once(connection, table):  # an as-built survey ends its 40 800 pre-sale units
            _driver_executemany(connection, f"UPDATE {table} SET valid_to = :now, end_reason = :reason "
                                            f"WHERE valid_to IS NULL AND id IN {id_set(connection, 'ids')}",
                                [{"ids": id_values(connection, ids), "reason": reason,
                                  "now": driver_time(connection, now)}])


def _updates_stamped_once(connection: Connection, table: str):
    """SpatiaLite's per-row update trigger of ``table`` suspended for a bulk update, the layer's update time written
    once (:func:`_row_triggers_suspended`); nothing to suspend on PostgreSQL."""
    if connection.dialect.name != "sqlite":
        return nullcontext()
    return _row_triggers_suspended(connection, table, _UPDATE_TRIGGERS, "last_update")


def current_parcels(connection: Connection, codes: list[str], srid: int):
    """The current parcels with these codes (id, zddm, bdcdyh, geometry), in one query per 10 000 codes."""
    frames = []
    query = sa.text("SELECT id, zddm, bdcdyh, ST_AsBinary(geom) AS wkb FROM parcel "
                    "WHERE valid_to IS NULL AND zddm IN :codes").bindparams(sa.bindparam("codes", expanding=True))
    for start in range(0, len(codes), 10_000):
        frames.append(read_frame(connection, query, {"codes": codes[start:start + 10_000]}, srid=srid))
    if not frames:
        return read_frame(connection, "SELECT id, zddm, bdcdyh, ST_AsBinary(geom) AS wkb FROM parcel WHERE 1 = 0",
                          srid=srid)
    return pd.concat(frames, ignore_index=True)


def parcel_row(connection: Connection, zddm: str, srid: int):
    """The current parcel with this code (id, zddm, bdcdyh, geometry), or None."""
    frame = read_frame(connection, "SELECT id, zddm, bdcdyh, ST_AsBinary(geom) AS wkb FROM parcel "
                                   "WHERE valid_to IS NULL AND zddm = :z", {"z": zddm}, srid=srid)
    return None if frame.empty else frame.iloc[0]


def current_buildings(connection: Connection, zddm: str) -> pd.DataFrame:
    result = connection.execute(sa.text("SELECT id, zrzh, zrzh_label, stage FROM building "
                                        "WHERE valid_to IS NULL AND zddm = :z"), {"z": zddm})
    return result_frame(result)


def current_units(connection: Connection, building_ids: list[int]) -> pd.DataFrame:
    """Current units of the buildings, what a new survey of them is matched and compared on: id, bdcdyh, zrzh,
    sjc, dyh, shbw and the predicted area (ycjzmj)."""
    columns = ["id", "bdcdyh", "zrzh", "sjc", "dyh", "shbw", "ycjzmj"]
    if not building_ids:
        return pd.DataFrame(columns=columns)
    return driver_frame(connection, "SELECT u.id, u.bdcdyh, b.zrzh, u.sjc, u.dyh, u.shbw, u.ycjzmj "
                                    "FROM unit u JOIN building b ON b.id = u.building_id "
                                    f"WHERE u.valid_to IS NULL AND u.building_id IN {id_set(connection, 'ids')}",
                        ids=id_values(connection, building_ids))


def issued_building_numbers(connection: Connection, zddm: str) -> set[str]:
    """Every 幢号 a code was ever issued under in parcel ``zddm`` (retired codes included)."""
    lo, hi = prefix_range(f"{zddm}F")  # a key range rather than LIKE: the unique index on code serves it
    return {r[0] for r in connection.execute(sa.text(
        "SELECT DISTINCT substr(code, 21, 4) FROM issued_code WHERE code >= :lo AND code < :hi"),
        {"lo": lo, "hi": hi})}


def code_retired(connection: Connection, code: str) -> bool:
    """Whether ``code`` was issued and has been retired since."""
    return connection.execute(sa.text("SELECT retired_at FROM issued_code WHERE code = :c"),
                              {"c": code}).scalar() is not None


def end_floors(connection: Connection, building_ids: list[int], reason: str, now: datetime) -> None:
    """End the current floors of the buildings ``building_ids`` (their buildings are being replaced)."""
    if building_ids:
        with _updates_stamped_once(connection, "floor"):  # a project's 6 800 floors
            connection.execute(sa.text("UPDATE floor SET valid_to = :now, end_reason = :r WHERE valid_to IS NULL "
                                       f"AND building_id IN {id_set(connection, 'ids')}")
                               .bindparams(sa.bindparam("now", type_=sa.DateTime(True))),
                               {"now": now, "r": reason, "ids": id_values(connection, building_ids)})
