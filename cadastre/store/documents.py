"""What the registration documents are drawn from (宗地图, 界址点成果表, 房产分户图): a parcel as it was at a moment,
its neighbours, its buildings and the boundary points on its outline; a unit with its building and parcel. All
from the stored rows and geometry (never the package files), in the storage CRS."""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cadastre.core.errors import NotFoundError
from cadastre.store.queries import layer_frame
from cadastre.store.spatial import envelope, index_filter, read_frame, utc_times

__all__ = ["parcel_document_rows", "unit_document_rows", "building_document_rows", "NEIGHBOUR_REACH_M"]

#: how far around a parcel its neighbours are looked for (四至: parcels across a lane count too)
NEIGHBOUR_REACH_M = 30.0


def _when(as_of: datetime | None, alias: str) -> tuple[str, dict]:
    if as_of is None:
        return f"{alias}.valid_to IS NULL", {}
    return f"{alias}.valid_from <= :as_of AND ({alias}.valid_to IS NULL OR {alias}.valid_to > :as_of)", {"as_of": as_of}


def _bind(sql: str, as_of: datetime | None) -> sa.TextClause:
    statement = sa.text(sql)
    return statement if as_of is None else statement.bindparams(sa.bindparam("as_of", type_=sa.DateTime(timezone=True)))


def _points_near(connection: Connection, srid: int, bounds, as_of: datetime | None) -> gpd.GeoDataFrame:
    """Boundary points (界址点) within ``bounds`` (a point's parcel code may be blank: a first survey's points
    are numbered before the parcel has a code, so they are matched to the outline by position)."""
    when, params = _when(as_of, "t")
    frame = envelope(connection)
    params.update({"srid": srid, **dict(zip(("minx", "miny", "maxx", "maxy"), map(float, bounds), strict=True))})
    sql = (f"SELECT t.jzdh, t.jblx, t.jzdlx, ST_AsBinary(t.geom) AS wkb FROM boundary_point t "
           f"WHERE {when} AND {index_filter(connection, 'boundary_point', 't', frame)} "
           f"AND ST_Intersects(t.geom, {frame}) ORDER BY t.id")
    return read_frame(connection, _bind(sql, as_of), params, srid=srid)


def parcel_document_rows(connection: Connection, srid: int, zddm: str, as_of: datetime | None = None) -> dict:
    """The parcel ``zddm`` current now or at ``as_of``, with ``neighbours`` (other parcels within
    :data:`NEIGHBOUR_REACH_M`), ``buildings`` on it and boundary ``points`` near its outline; GeoDataFrames."""
    parcel = layer_frame(connection, "parcel", srid, subdistrict=zddm, as_of=as_of)
    parcel = parcel[parcel["zddm"] == zddm]
    if parcel.empty:
        when = "" if as_of is None else f"在 {as_of:%Y-%m-%d %H:%M} "
        raise NotFoundError(f"{when}没有宗地 {zddm}", f"no parcel {zddm}" + ("" if as_of is None else f" at {as_of}"))
    parcel = parcel.iloc[[-1]]
    minx, miny, maxx, maxy = parcel.total_bounds
    reach = (minx - NEIGHBOUR_REACH_M, miny - NEIGHBOUR_REACH_M, maxx + NEIGHBOUR_REACH_M, maxy + NEIGHBOUR_REACH_M)
    neighbours = layer_frame(connection, "parcel", srid, bbox=reach, as_of=as_of)
    neighbours = neighbours[neighbours["zddm"] != zddm]
    buildings = layer_frame(connection, "building", srid, subdistrict=zddm, as_of=as_of)
    buildings = buildings[buildings["zddm"] == zddm]
    points = _points_near(connection, srid, (minx - 0.05, miny - 0.05, maxx + 0.05, maxy + 0.05), as_of)
    return {"parcel": parcel.reset_index(drop=True), "neighbours": neighbours.reset_index(drop=True),
            "buildings": buildings.reset_index(drop=True), "points": points}


def unit_document_rows(connection: Connection, srid: int, bdcdyh: str, as_of: datetime | None = None) -> dict:
    """The unit ``bdcdyh`` current now or at ``as_of`` with its building and parcel (one-row GeoDataFrames) and
    the other units on its floor (``floor_units``)."""
    when_u, params = _when(as_of, "u")
    unit = read_frame(connection, _bind(
        f"SELECT u.*, b.zddm, b.zrzh, b.jzwmc, b.zcs, ST_AsBinary(u.geom) AS wkb FROM unit u "
        f"JOIN building b ON b.id = u.building_id WHERE {when_u} AND u.bdcdyh = :code "
        "ORDER BY u.valid_from DESC LIMIT 1", as_of), {**params, "code": bdcdyh}, srid=srid)
    if unit.empty:
        when = "" if as_of is None else f"在 {as_of:%Y-%m-%d %H:%M} "
        raise NotFoundError(f"{when}没有户 {bdcdyh}", f"no unit {bdcdyh}" + ("" if as_of is None else f" at {as_of}"))
    unit = utc_times(unit.drop(columns=["geom"], errors="ignore"), "valid_from", "valid_to")
    building_id = int(unit["building_id"].iat[0])
    building = read_frame(connection, sa.text("SELECT b.*, ST_AsBinary(b.geom) AS wkb FROM building b WHERE b.id = :b"),
                          {"b": building_id}, srid=srid).drop(columns=["geom"], errors="ignore")
    parcel = layer_frame(connection, "parcel", srid, subdistrict=bdcdyh[:19], as_of=as_of)
    floor_units = read_frame(connection, _bind(
        f"SELECT u.bdcdyh, u.shbw, u.sjc, u.myc, u.scjzmj, u.sctnjzmj, u.scftjzmj, u.ycjzmj, u.yctnjzmj, u.ycftjzmj, "
        f"ST_AsBinary(u.geom) AS wkb FROM unit u WHERE {when_u} AND u.building_id = :b ORDER BY u.hh, u.bdcdyh",
        as_of), {**params, "b": building_id}, srid=srid)
    return {"unit": unit, "building": building, "parcel": parcel[parcel["zddm"] == bdcdyh[:19]].reset_index(drop=True),
            "floor_units": floor_units}


def building_document_rows(connection: Connection, srid: int, zddm: str, zrzh: str,
                           as_of: datetime | None = None) -> dict:
    """The building ``zddm`` + ``zrzh`` current now or at ``as_of`` (a one-row GeoDataFrame) and its units
    (``units``: 室号, floors, areas, outline) at the same moment."""
    when_b, params = _when(as_of, "b")
    building = read_frame(connection, _bind(
        f"SELECT b.*, ST_AsBinary(b.geom) AS wkb FROM building b WHERE {when_b} AND b.zddm = :z AND b.zrzh = :h "
        "ORDER BY b.valid_from DESC LIMIT 1", as_of), {**params, "z": zddm, "h": zrzh}, srid=srid)
    if building.empty:
        when = "" if as_of is None else f"在 {as_of:%Y-%m-%d %H:%M} "
        raise NotFoundError(f"{when}没有自然幢 {zddm}F{zrzh}", f"no building {zddm}F{zrzh}")
    building = building.drop(columns=["geom"], errors="ignore")
    when_u, params = _when(as_of, "u")
    units = read_frame(connection, _bind(
        f"SELECT u.bdcdyh, u.shbw, u.sjc, u.myc, u.dyh, u.hh, u.fwyt, u.scjzmj, u.sctnjzmj, u.scftjzmj, u.ycjzmj, "
        f"u.yctnjzmj, u.ycftjzmj, ST_AsBinary(u.geom) AS wkb FROM unit u WHERE {when_u} AND u.building_id = :b "
        "ORDER BY u.sjc, u.dyh, u.hh, u.bdcdyh", as_of), {**params, "b": int(building["id"].iat[0])}, srid=srid)
    parcel = layer_frame(connection, "parcel", srid, subdistrict=zddm, as_of=as_of)
    return {"building": building, "units": units, "parcel": parcel[parcel["zddm"] == zddm].reset_index(drop=True)}
