"""Read queries behind lookups: a building with its floors and units, a parcel with its buildings and history."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from cadastre.core.codes import prefix_range
from cadastre.core.errors import NotFoundError
from cadastre.store.models import Base, Package, versions_where
from cadastre.store.spatial import (
    envelope,
    index_filter,
    query_frame,
    query_records_together,
    query_records_together_async,
    read_frame,
    utc_times,
)

__all__ = ["open_errors", "building_rows", "parcel_rows", "parcel_rows_async", "layer_frame", "summary_counts",
           "data_version", "current_extent"]



def open_errors(connection: Connection, package_id: int) -> pd.DataFrame:
    """The package's errors no waiver covers (rule, severity, feature, message)."""
    return query_frame(connection, "SELECT f.rule, f.severity, f.feature, f.message FROM finding f "
                                   "LEFT JOIN waiver w ON w.finding_id = f.id "
                                   "WHERE f.package_id = :p AND f.severity = 'error' AND w.id IS NULL", p=package_id)


def building_rows(connection: Connection, building_code: str) -> dict[str, pd.DataFrame]:
    """The current building ``building_code`` (宗地代码 + F + 幢号) with its parcel, floors, units and package."""
    zddm, zrzh = building_code[:19], building_code[20:]
    building = query_frame(connection, "SELECT b.*, p.zl, p.qllx, pk.status AS package_status, pk.stage AS package_stage, "
                                  "pk.id AS pkg "
                                  "FROM building b JOIN parcel p ON p.id = b.parcel_id "
                                  "JOIN package pk ON pk.id = b.package_id "
                                  "WHERE b.valid_to IS NULL AND b.zddm = :z AND b.zrzh = :h", z=zddm, h=zrzh)
    if building.empty:
        raise NotFoundError(f"没有现势自然幢 {building_code}", f"no current building {building_code}")
    building_id = int(building["id"].iat[0])
    units = query_frame(connection, "SELECT u.*, i.retired_at FROM unit u LEFT JOIN issued_code i ON i.code = u.bdcdyh "
                               "WHERE u.valid_to IS NULL AND u.building_id = :b", b=building_id)
    floors = query_frame(connection, "SELECT sjc, myc, cg FROM floor WHERE valid_to IS NULL AND building_id = :b", b=building_id)
    package_id = int(building["package_id"].iat[0])
    findings = open_errors(connection, package_id)
    report = connection.execute(sa.select(Package.report).where(Package.id == package_id)).scalar_one() or {}
    return {"building": building, "units": units, "floors": floors, "open_errors": findings,
            "indicators": pd.DataFrame(report.get("indicators") or [],
                                       columns=["indicator", "subject", "status", "reason", "rule"])}


def parcel_rows(connection: Connection, zddm: str) -> dict[str, list[dict]]:
    """Every version of parcel ``zddm`` (each row also carries the land code's issue record, ``land_*``, and the
    count of unwaived errors in the packages that recorded it, ``open_errors``), its current buildings with unit
    counts, and the lineage of its codes. Three queries, sent together (:func:`query_records_together`): on
    PostgreSQL each round trip costs more than its work."""
    return _parcel_result(zddm, *query_records_together(connection, *_parcel_queries(zddm)))


async def parcel_rows_async(connection: AsyncConnection, zddm: str) -> dict[str, list[dict]]:
    """:func:`parcel_rows` on an event loop (PostgreSQL, :func:`query_records_together_async`)."""
    return _parcel_result(zddm, *await query_records_together_async(connection, *_parcel_queries(zddm)))


def _parcel_queries(zddm: str) -> list[tuple[str, dict]]:
    # the parcel's own code and the unit codes under it: a key range, which the code indexes serve
    lo, hi = prefix_range(zddm)
    return [
        ("SELECT p.id, p.zddm, p.bdcdyh, p.zl, p.zdmj, p.yt, p.qllx, p.qlxz, p.qlsdfs, p.qlr, "
         "ST_Area(p.geom) AS area, p.valid_from, p.valid_to, p.end_reason, p.package_id, "
         # the file's name from its original, not package.filename: on SQLite a package row holds its report
         # (megabytes of JSON for a county) before the columns added later, and reading one of those walked the
         # report's overflow pages — 4 of a card's 5 ms at county scale
         "pk.status AS package_status, pk.stage AS package_stage, o.filename AS package_file, "
         "i.code AS land_code, i.issued_at AS land_issued_at, "
         "i.retired_at AS land_retired_at, i.retired_reason AS land_retired_reason, "
         "(SELECT count(*) FROM finding f LEFT JOIN waiver w ON w.finding_id = f.id "
         " WHERE f.severity = 'error' AND w.id IS NULL AND f.package_id IN "
         f" (SELECT package_id FROM parcel WHERE id IN ({versions_where('parcel', 'zddm', 'z')}))) AS open_errors "
         "FROM parcel p JOIN package pk ON pk.id = p.package_id "
         "LEFT JOIN original o ON o.sha256 = pk.sha256 "
         "LEFT JOIN issued_code i ON i.code = :land "
         f"WHERE p.id IN ({versions_where('parcel', 'zddm', 'z')}) ORDER BY p.valid_from",
         {"z": zddm, "land": f"{zddm}W00000000"}),
        ("SELECT old_code, new_code, reason, package_id, created_at FROM code_lineage "
         "WHERE (old_code >= :lo AND old_code < :hi) OR (new_code >= :lo AND new_code < :hi) "
         "ORDER BY created_at, id", {"lo": lo, "hi": hi}),
        ("SELECT b.zrzh, b.jzwmc, b.stage, b.package_id, count(u.id) AS units "
         "FROM building b LEFT JOIN unit u ON u.building_id = b.id AND u.valid_to IS NULL "
         "WHERE b.valid_to IS NULL AND b.zddm = :z GROUP BY b.id, b.zrzh, b.jzwmc, b.stage, "
         "b.package_id ORDER BY b.zrzh", {"z": zddm})]


def _parcel_result(zddm: str, versions: list[dict], lineage: list[dict], buildings: list[dict]) -> dict:
    if not versions and not lineage:
        raise NotFoundError(f"没有宗地 {zddm}", f"no parcel {zddm}")
    return {"versions": versions, "lineage": lineage, "buildings": buildings}


def layer_frame(connection: Connection, table: str, srid: int, *, subdistrict: str | None = None,
                bbox=None, as_of=None, stage: str | None = None) -> pd.DataFrame:
    """Every row of ``table`` (``parcel``, ``building`` or ``unit``) current now, or at ``as_of`` (from the
    history: valid_from ≤ as_of < valid_to), within a 地籍子区 (its 12-digit code, a code prefix) and a bbox in the
    storage CRS; a GeoDataFrame in the storage CRS. Units also carry their building's ``zddm`` and ``zrzh``."""
    code = {"parcel": "zddm", "building": "zddm", "unit": "bdcdyh"}[table]
    columns = [c.name for c in Base.metadata.tables[table].columns if c.name != "geom"]
    where, params = [], {"srid": srid}
    if as_of is None:
        where.append("t.valid_to IS NULL")
    else:
        where.append("t.valid_from <= :as_of AND (t.valid_to IS NULL OR t.valid_to > :as_of)")
        params["as_of"] = as_of
    if stage is not None:  # buildings and units: presale | asbuilt
        where.append("t.stage = :stage")
        params["stage"] = stage
    if subdistrict:
        where.append(f"t.{code} >= :lo AND t.{code} < :hi")
        params["lo"], params["hi"] = prefix_range(subdistrict)
    if bbox is not None:
        frame = envelope(connection)
        where.append(index_filter(connection, table, "t", frame))
        where.append(f"ST_Intersects(t.geom, {frame})")
        params.update(dict(zip(("minx", "miny", "maxx", "maxy"), map(float, bbox), strict=True)))
    selected, joined = ", ".join("t." + c for c in columns), ""
    if table == "parcel":  # the land code's state: a retired one is marked wherever it is shown (现势 | 注销)
        by = "" if as_of is None else " AND i.retired_at <= :as_of"
        selected += (", CASE WHEN t.bdcdyh IS NULL THEN NULL WHEN EXISTS (SELECT 1 FROM issued_code i WHERE "
                     f"i.code = t.bdcdyh AND i.retired_at IS NOT NULL{by}) THEN '注销' ELSE '现势' END AS bdcdyhzt")
    if table == "unit":  # a unit's parcel and building codes, as the package's H layer carries them
        selected += ", b.zddm, b.zrzh"
        joined = " LEFT JOIN building b ON b.id = t.building_id"
    sql = (f"SELECT {selected}, ST_AsBinary(t.geom) AS wkb FROM {table} t{joined} "
           f"WHERE {' AND '.join(where)} ORDER BY t.{code}, t.valid_from")
    statement = sa.text(sql)
    if as_of is not None:
        statement = statement.bindparams(sa.bindparam("as_of", type_=sa.DateTime(timezone=True)))
    return utc_times(read_frame(connection, statement, params, srid=srid), "valid_from", "valid_to")


def summary_counts(connection: Connection) -> dict:
    """How many districts, sub-districts, parcels, buildings and units are current, how many packages and codes
    there are, and the zoned area in km²."""
    counts = {}
    for key, table in (("districts", "cadastral_district"), ("subdistricts", "cadastral_subdistrict"),
                       ("parcels", "parcel"), ("buildings", "building"), ("units", "unit")):
        counts[key] = connection.execute(sa.text(f"SELECT count(*) FROM {table} WHERE valid_to IS NULL")).scalar_one()
    counts["packages"] = connection.execute(sa.text("SELECT count(*) FROM package")).scalar_one()
    counts["issued_codes"] = connection.execute(sa.text("SELECT count(*) FROM issued_code")).scalar_one()
    area = connection.execute(sa.text("SELECT sum(ST_Area(geom)) FROM cadastral_subdistrict "
                                      "WHERE valid_to IS NULL")).scalar_one()
    counts["zoned_area_km2"] = round((area or 0.0) / 1e6, 3)
    return counts


def finding_extent(connection: Connection) -> tuple[float, float, float, float] | None:
    """The lon/lat bounding box of the located findings, or None."""
    box = connection.execute(sa.text("SELECT min(lon), min(lat), max(lon), max(lat) FROM finding "
                                     "WHERE lon IS NOT NULL")).first()
    return None if box is None or box[0] is None else tuple(map(float, box))


def data_version(connection: Connection) -> tuple:
    """A cheap fingerprint of the current data: it changes when a package is accepted or zoning imported (a query
    over the small package and zoning tables), so what is computed from whole tables can be kept until then."""
    return tuple(connection.execute(sa.text(
        "SELECT (SELECT count(*) FROM package WHERE status = 'accepted'), "
        "(SELECT sum(id) FROM package WHERE status = 'accepted'), (SELECT max(id) FROM zoning_import)")).first())


def current_extent(connection: Connection, tables: tuple[str, ...] = ("parcel", "cadastral_subdistrict")
                   ) -> tuple[float, float, float, float] | None:
    """The storage-CRS bounding box of the current rows of the first of ``tables`` that has any (default: the
    parcels, else the zoning), or None when all are empty."""
    for table in tables:
        sql = (f"SELECT min(ST_MinX(geom)), min(ST_MinY(geom)), max(ST_MaxX(geom)), max(ST_MaxY(geom)) "
               f"FROM {table} WHERE valid_to IS NULL")
        if connection.dialect.name == "postgresql":
            sql = (f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) AS e "
                   f"FROM {table} WHERE valid_to IS NULL) s")
        box = connection.execute(sa.text(sql)).first()
        if box is not None and box[0] is not None:
            return tuple(map(float, box))
    return None
