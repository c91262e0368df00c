"""What the checks need from the registry around one package, fetched through the spatial index."""

from __future__ import annotations

import numpy as np
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cadastre.core.model import RegistryFacts
from cadastre.store.permits import recorded_permit_for
from cadastre.store.spatial import envelope, index_filter, read_frame

__all__ = ["registry_facts", "package_extent", "check_facts"]

SEARCH_MARGIN = 100.0  # m around the package's extent
CHUNK = 10_000


def package_extent(package) -> np.ndarray | None:
    """(minx, miny, maxx, maxy) of every geometry in the package, in the storage CRS."""
    bounds = [shapely.total_bounds(np.asarray(frame.geometry.values, dtype=object))
              for frame in package.layers.values() if frame.geometry.notna().any()]
    bounds = [b for b in bounds if np.isfinite(b).all()]
    if not bounds:
        return None
    b = np.array(bounds)
    return np.array([b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()])


def _near(connection: Connection, table: str, columns: str, extent: np.ndarray, srid: int):
    frame_sql = envelope(connection)
    sql = (f"SELECT {columns}, ST_AsBinary(t.geom) AS wkb FROM {table} t WHERE t.valid_to IS NULL "
           f"AND {index_filter(connection, table, 't', frame_sql)}")
    minx, miny, maxx, maxy = extent + [-SEARCH_MARGIN, -SEARCH_MARGIN, SEARCH_MARGIN, SEARCH_MARGIN]
    return read_frame(connection, sql, {"minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy, "srid": srid},
                      srid=srid)


def _code_status(connection: Connection, codes: list[str]) -> dict[str, str]:
    status: dict[str, str] = {}
    query = sa.text("SELECT code, retired_at FROM issued_code WHERE code IN :codes").bindparams(
        sa.bindparam("codes", expanding=True))
    for start in range(0, len(codes), CHUNK):
        for code, retired_at in connection.execute(query, {"codes": codes[start:start + CHUNK]}):
            status[code] = "current" if retired_at is None else "retired"
    return status


def _supplied_codes(package) -> list[str]:
    codes: set[str] = set()
    for layer, field in (("ZDJBXX", "ZDDM"), ("ZRZ", "ZDDM"), ("JZD", "ZDZHDM"), ("H", "BDCDYH")):
        frame = package.layers.get(layer)
        if frame is not None:
            codes.update(frame[field].dropna().astype(str))
    return sorted(codes)


def _project_parcel(connection: Connection, package, parcels, srid: int):
    """The parcel a pre-sale / as-built package stands on: the manifest's parcel_code, else the registered
    parcel that holds most of the buildings' footprint."""
    if package.stage == "cadastral":
        return None
    code = package.manifest.parcel_code
    if code:
        found = read_frame(connection, "SELECT zddm, ST_AsBinary(geom) AS wkb FROM parcel "
                                       "WHERE valid_to IS NULL AND zddm = :code", {"code": code}, srid=srid)
        return found
    buildings = package.layers.get("ZRZ")
    if buildings is None or not len(parcels):
        return None
    geoms = np.asarray(buildings.geometry.values, dtype=object)
    geoms = geoms[buildings["geometry_valid"].to_numpy(bool)]  # invalid shapes were reported (GEO-001)
    footprint = shapely.union_all(geoms)
    if footprint.is_empty:
        return None
    overlap = shapely.area(shapely.intersection(np.asarray(parcels.geometry.values, dtype=object), footprint))
    if overlap.max() <= 0:
        return None
    return parcels.iloc[[int(np.argmax(overlap))]].reset_index(drop=True)


def registry_facts(connection: Connection, srid: int, package) -> RegistryFacts:
    """Registered parcels and sub-districts around ``package``, the status of the codes it supplies, and the
    parcel a building package stands on."""
    extent = package_extent(package)
    if extent is None:
        empty = read_frame(connection, "SELECT zddm, ST_AsBinary(geom) AS wkb FROM parcel WHERE 1 = 0", srid=srid)
        return RegistryFacts(empty, None, _code_status(connection, _supplied_codes(package)))
    parcels = _near(connection, "parcel", "t.zddm, t.package_id", extent, srid)
    # parcels this very submission registered (same checksum, accepted before) are not "other" parcels
    own = {row[0] for row in connection.execute(sa.text("SELECT id FROM package WHERE sha256 = :s"),
                                                {"s": package.sha256})}
    parcels = parcels[~parcels["package_id"].isin(own)].reset_index(drop=True)
    zones = _near(connection, "cadastral_subdistrict", "t.djzqdm", extent, srid)
    has_zoning = connection.execute(sa.text(
        "SELECT count(*) FROM cadastral_subdistrict WHERE valid_to IS NULL")).scalar_one() > 0
    return RegistryFacts(parcels, zones if has_zoning else None, _code_status(connection, _supplied_codes(package)),
                        _project_parcel(connection, package, parcels, srid))


def check_facts(connection: Connection, srid: int, package, permit=None):
    """What a check compares a package with, read in one place: the registry around it
    (:func:`registry_data`) and, for a building package, the recorded planning permit (``permit`` when the caller
    gives one, else the one the package names or the one recorded for its parcel). Returns (data, permit)."""
    data = registry_facts(connection, srid, package)
    if permit is None and package.stage in ("presale", "asbuilt"):
        parcel = data.project_parcel
        permit = recorded_permit_for(
            connection, package.manifest.permit_number or (package.permit.number if package.permit else None),
            None if parcel is None or not len(parcel) else parcel["zddm"].iat[0])
    return data, permit
