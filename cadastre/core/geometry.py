"""Small vectorised geometry helpers shared by readers, checks and the store (shapely 2 array functions)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
import shapely
from pyproj import Transformer

__all__ = ["as_multipolygons", "transformer", "points_at", "on_all_cores", "parcels_under",
           "UNDERGROUND"]

#: 权利设定方式 QLSDFS of a parcel below ground (地下)
UNDERGROUND = "3"

#: below this many geometries a shapely call is not worth splitting over threads
_SPLIT_FROM = 50_000


def as_multipolygons(geometries) -> np.ndarray:
    """Each polygonal geometry as a MultiPolygon (a Polygon becomes a one-part MultiPolygon); missing and empty
    geometries stay as they are; other kinds are returned unchanged for the checks to report."""
    geoms = np.asarray(geometries, dtype=object)
    out = geoms.copy()
    types = shapely.get_type_id(geoms)
    polygonal = np.flatnonzero((types == shapely.GeometryType.POLYGON) & ~shapely.is_empty(geoms))
    if len(polygonal):
        out[polygonal] = shapely.multipolygons(geoms[polygonal][:, np.newaxis])
    return out


def on_all_cores(function, geometries: np.ndarray) -> np.ndarray:
    """``function(geometries)`` for a shapely array function whose work is per geometry (``shapely.is_valid``),
    split over the machine's cores: shapely lets go of the GIL, so on two cores a county's 500 000 units are checked
    in half the time. A pool per call, not a shared one: a pool's idle thread does not survive a fork."""
    workers = min(os.cpu_count() or 1, 8)
    if workers < 2 or len(geometries) < _SPLIT_FROM:
        return function(geometries)
    with ThreadPoolExecutor(workers, thread_name_prefix="cadastre-geometry") as pool:
        return np.concatenate(list(pool.map(function, np.array_split(geometries, workers))))


@lru_cache(maxsize=16)
def transformer(source: int, target: int) -> Transformer:
    """The transformation between two EPSG codes, x = easting / longitude first (``always_xy``), cached."""
    return Transformer.from_crs(source, target, always_xy=True)


def points_at(lon, lat, srid: int) -> np.ndarray:
    """Points at lon/lat (CGCS2000 ≈ WGS 84) in ``srid``, None where either is missing: findings' places."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    x, y = transformer(4326, srid).transform(lon, lat)
    points = shapely.points(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.where(np.isfinite(x) & np.isfinite(y), points, None)


def parcels_under(footprints: np.ndarray, named: np.ndarray, underground_only: np.ndarray, parcels: np.ndarray,
                  codes: np.ndarray, levels: np.ndarray, default: str | None = None) -> np.ndarray:
    """The parcel each building is coded under, as an index into ``parcels`` (−1: none): the one its own 宗地代码
    names (``named``) when that is among them; else the parcel holding most of its footprint — a surface parcel
    for a building above ground, an underground one (QLSDFS 3, ``levels``) only for a building wholly below ground
    that lies on no surface parcel; else the ``default`` parcel (the manifest's), when given."""
    n = len(footprints)
    out = np.full(n, -1)
    if not len(parcels):
        return out
    position = {c: i for i, c in enumerate(codes)}
    by_name = np.array([position.get(c, -1) if isinstance(c, str) else -1 for c in named])
    out[by_name >= 0] = by_name[by_name >= 0]
    present = np.flatnonzero((out < 0) & ~shapely.is_missing(footprints))
    if len(present):
        tree = shapely.STRtree(parcels)
        left, right = tree.query(footprints[present], predicate="intersects")
        area = shapely.area(shapely.intersection(footprints[present][left], parcels[right]))
        below = np.asarray(levels, dtype=object)[right] == UNDERGROUND
        # a surface parcel always wins; an underground one only for a building wholly below ground
        score = np.where(below, np.where(underground_only[present][left], area * 1e-9, 0.0), area)
        keep = score > 0
        left, right, score = left[keep], right[keep], score[keep]
        choice = np.full(len(present), -1)
        order = np.lexsort((score, left))  # by building, the best score last
        last = np.r_[left[order][1:] != left[order][:-1], True] if len(order) else np.zeros(0, bool)
        choice[left[order][last]] = right[order][last]
        out[present] = choice
    if default is not None and default in position:
        out[out < 0] = position[default]
    return out
