"""Writing accepted survey data: parcels, boundary points and lines, buildings, floors, units; issuing, retiring and
linking codes. Bulk statements only (one ``executemany`` per table), inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cadastre.errors import AllocationError
from cadastre.geometry import as_multi
from cadastre.store.spatial import read_frame, to_wkb

__all__ = ["insert_rows", "issue_codes", "retire_codes", "end_rows", "current_units", "current_buildings",
           "current_parcels", "parcel_row", "code_exists_with_prefix"]

_TS = sa.DateTime(timezone=True)


def _value(v):
    if v is None or v is pd.NA or (isinstance(v, float) and not np.isfinite(v)):
        return None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def insert_rows(connection: Connection, table: str, columns: dict[str, object], geometry, srid: int, *,
                package_id: int, now: datetime, multi: bool = True) -> list[int]:
    """Insert one row per element of the column arrays (and ``geometry``), current from ``now``; returns ids.

    The bulk path of each engine: PostgreSQL ``COPY`` (geometry as hex EWKB), SQLite one ``executemany`` with
    geometry already made multi-part by shapely, so no SQL function wraps it per row.
    """
    names = list(columns)
    n = len(next(iter(columns.values()))) if columns else len(geometry)
    if n == 0:
        return []
    geoms = np.asarray(geometry if geometry is not None else [None] * n, dtype=object)
    if multi:
        geoms = as_multi(geoms)
    data = [[_value(v) for v in np.asarray(values, dtype=object)] for values in columns.values()]
    if connection.dialect.name == "postgresql":
        _copy(connection, table, names, data, geoms, srid, package_id, now)
    else:
        wkb = to_wkb(geoms)
        # straight to the driver with tuples (SQLAlchemy's per-row parameter handling costs as much as SQLite);
        # the timestamp is written as SQLAlchemy writes DateTime on SQLite, so it reads back the same
        stamp = _TS.dialect_impl(connection.dialect).bind_processor(connection.dialect)(now)
        rows = list(zip(*data, wkb, [srid] * n, [package_id] * n, [stamp] * n, strict=True))
        connection.exec_driver_sql(
            f"INSERT INTO {table} ({', '.join(names)}, geom, package_id, valid_from) "
            f"VALUES ({', '.join('?' * len(names))}, GeomFromWKB(?, ?), ?, ?)", rows)
    # rows are inserted in order and ids only grow (even if another writer takes ids in between)
    ids = connection.execute(sa.text(f"SELECT id FROM {table} WHERE package_id = :p AND valid_from = :now "
                                     f"ORDER BY id").bindparams(sa.bindparam("now", type_=_TS)),
                             {"p": package_id, "now": now}).scalars().all()
    return list(ids[-n:])


def _copy(connection: Connection, table: str, names: list[str], data, geoms, srid, package_id, now) -> None:
    """PostgreSQL COPY through the connection's own psycopg cursor (inside the same transaction), the rows written
    as CSV in bulk by pandas rather than one Python call per row."""
    frame = pd.DataFrame({name: pd.Series(column, dtype=object) for name, column in zip(names, data, strict=True)})
    frame["geom"] = shapely.to_wkb(shapely.set_srid(geoms, srid), hex=True, include_srid=True)
    frame["package_id"] = package_id
    frame["valid_from"] = now.isoformat()
    payload = frame.to_csv(index=False, header=False, na_rep="")
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(payload)


def issue_codes(connection: Connection, codes: list[str], kind: str, package_id: int, now: datetime) -> None:
    """Record codes as issued. The primary key refuses any code issued before: a code is never reused."""
    if not codes:
        return
    try:
        connection.execute(sa.text("INSERT INTO issued_code (code, kind, issued_at, package_id) "
                                   "VALUES (:code, :kind, :now, :package)").bindparams(sa.bindparam("now", type_=_TS)),
                           [{"code": c, "kind": kind, "now": now, "package": package_id} for c in codes])
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
    rows = [{"old": old, "new": new, "reason": reason, "package": package_id, "now": now}
            for old, successors, reason in retirements for new in (successors or [None])]
    connection.execute(sa.text("INSERT INTO code_lineage (old_code, new_code, reason, package_id, created_at) "
                               "VALUES (:old, :new, :reason, :package, :now)").bindparams(
        sa.bindparam("now", type_=_TS)), rows)


def end_rows(connection: Connection, table: str, ids: list[int], reason: str, now: datetime) -> None:
    """End current rows (history kept): ``valid_to`` and the reason."""
    if ids:
        connection.execute(sa.text(f"UPDATE {table} SET valid_to = :now, end_reason = :reason "
                                   f"WHERE id = :id AND valid_to IS NULL").bindparams(sa.bindparam("now", type_=_TS)),
                           [{"id": i, "reason": reason, "now": now} for i in ids])


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
    result = connection.execute(sa.text("SELECT id, zrzh, stage FROM building WHERE valid_to IS NULL AND zddm = :z"),
                                {"z": zddm})
    return pd.DataFrame(result.fetchall(), columns=["id", "zrzh", "stage"])


def current_units(connection: Connection, building_ids: list[int]) -> pd.DataFrame:
    """Current units of the buildings: id, bdcdyh, building_id, zrzh, sjc, shbw and the areas."""
    columns = ["id", "bdcdyh", "building_id", "zrzh", "sjc", "shbw", "ycjzmj", "scjzmj"]
    if not building_ids:
        return pd.DataFrame(columns=columns)
    result = connection.execute(sa.text(
        "SELECT u.id, u.bdcdyh, u.building_id, b.zrzh, u.sjc, u.shbw, u.ycjzmj, u.scjzmj FROM unit u "
        "JOIN building b ON b.id = u.building_id WHERE u.valid_to IS NULL AND u.building_id IN :ids").bindparams(
        sa.bindparam("ids", expanding=True)), {"ids": list(building_ids)})
    return pd.DataFrame(result.fetchall(), columns=columns)


def code_exists_with_prefix(connection: Connection, prefix: str) -> bool:
    return connection.execute(sa.text("SELECT 1 FROM issued_code WHERE code LIKE :p"),
                              {"p": prefix + "%"}).first() is not None
