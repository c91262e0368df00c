"""What the checks need from the registry around one package, fetched through the spatial index."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cadastre.core.geometry import UNDERGROUND, parcels_under
from cadastre.core.model import RegistryFacts
from cadastre.store.permits import recorded_permit_for
from cadastre.store.spatial import envelope, index_filter, read_frame

__all__ = ["registry_facts", "package_extent", "check_facts", "parcels_near"]

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


def parcels_near(connection: Connection, srid: int, package):
    """The current parcels around ``package`` (zddm, qlsdfs, geometry), or None when it has no geometry."""
    extent = package_extent(package)
    return None if extent is None else _near(connection, "parcel", "t.zddm, t.qlsdfs", extent, srid)


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


def _project_parcels(connection: Connection, package, parcels, srid: int):
    """The parcels a pre-sale / as-built package stands on, and the one each building is coded under.

    Each building: the parcel its own 宗地代码 names, else the one holding most of its footprint (a surface parcel;
    an underground parcel only for a building wholly below ground), else the manifest's ``parcel_code``
    (:func:`cadastre.core.geometry.parcels_under`). Returns (parcels: zddm, qlsdfs, geometry — the one holding
    most buildings first, then the other parcels used, then underground parcels under the project's underground
    buildings; per building its parcel's zddm), or (None, None)."""
    if package.stage == "cadastral":
        return None, None
    buildings = package.layers.get("ZRZ")
    code = package.manifest.parcel_code
    named = set() if buildings is None or "ZDDM" not in buildings else set(buildings["ZDDM"].dropna().astype(str))
    named |= {code} if code else set()
    missing = sorted(named - set(parcels["zddm"]))
    candidates = parcels[["zddm", "qlsdfs", "geometry"]]
    if missing:
        found = read_frame(connection, sa.text("SELECT zddm, qlsdfs, ST_AsBinary(geom) AS wkb FROM parcel "
                                               "WHERE valid_to IS NULL AND zddm IN :codes").bindparams(
            sa.bindparam("codes", expanding=True)), {"codes": missing}, srid=srid)
        candidates = pd.concat([candidates, found[["zddm", "qlsdfs", "geometry"]]], ignore_index=True)
    candidates = gpd.GeoDataFrame(candidates, geometry="geometry", crs=parcels.crs).reset_index(drop=True)
    if buildings is None or not len(buildings) or not len(candidates):
        return (candidates[candidates["zddm"] == code].reset_index(drop=True) if code else None), None
    usable = buildings["geometry_valid"].to_numpy(bool)  # invalid shapes were reported (GEO-001)
    footprints = np.where(usable, np.asarray(buildings.geometry.values, dtype=object), None)
    underground = package.structure.underground_only
    choice = parcels_under(footprints, buildings["ZDDM"].to_numpy(object) if "ZDDM" in buildings else
                           np.full(len(buildings), None, object), underground,
                           np.asarray(candidates.geometry.values, dtype=object),
                           candidates["zddm"].to_numpy(object), candidates["qlsdfs"].to_numpy(object), code)
    if (choice < 0).all():
        return None, None
    used = pd.Series(choice[choice >= 0]).value_counts()  # the parcel with most buildings first
    rows = list(used.index)
    below = np.flatnonzero(candidates["qlsdfs"].to_numpy(object) == UNDERGROUND)
    if underground.any() and len(below):  # underground parcels a garage may extend into
        garages = shapely.union_all(footprints[underground & usable])
        rows += [int(i) for i in below[shapely.intersects(np.asarray(candidates.geometry.values, dtype=object)[below],
                                                          garages)] if i not in rows]
    building_parcel = np.where(choice >= 0, candidates["zddm"].to_numpy(object)[np.maximum(choice, 0)], None)
    return candidates.iloc[rows].reset_index(drop=True), building_parcel


def registry_facts(connection: Connection, srid: int, package) -> RegistryFacts:
    """Registered parcels and sub-districts around ``package``, the status of the codes it supplies, and the
    parcel a building package stands on."""
    extent = package_extent(package)
    if extent is None:
        empty = read_frame(connection, "SELECT zddm, ST_AsBinary(geom) AS wkb FROM parcel WHERE 1 = 0", srid=srid)
        return RegistryFacts(empty, None, _code_status(connection, _supplied_codes(package)))
    parcels = _near(connection, "parcel", "t.zddm, t.qlsdfs, t.package_id", extent, srid)
    # parcels this very submission registered (same checksum, accepted before) are not "other" parcels
    own = {row[0] for row in connection.execute(sa.text("SELECT id FROM package WHERE sha256 = :s"),
                                                {"s": package.sha256})}
    parcels = parcels[~parcels["package_id"].isin(own)].reset_index(drop=True)
    zones = _near(connection, "cadastral_subdistrict", "t.djzqdm", extent, srid)
    has_zoning = connection.execute(sa.text(
        "SELECT count(*) FROM cadastral_subdistrict WHERE valid_to IS NULL")).scalar_one() > 0
    project, building_parcel = _project_parcels(connection, package, parcels, srid)
    return RegistryFacts(parcels, zones if has_zoning else None, _code_status(connection, _supplied_codes(package)),
                         project, building_parcel)


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
