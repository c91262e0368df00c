"""Small vectorised geometry helpers shared by readers, checks and the store (shapely 2 array functions)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from pyproj import Transformer

__all__ = ["as_multipolygons", "as_multi", "transformer", "points_at"]


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


def as_multi(geometries) -> np.ndarray:
    """Single-part polygons and lines as one-part multi-geometries (the storage columns are multi-part)."""
    geoms = as_multipolygons(geometries)
    lines = np.flatnonzero((shapely.get_type_id(geoms) == shapely.GeometryType.LINESTRING) & ~shapely.is_empty(geoms))
    if len(lines):
        geoms[lines] = shapely.multilinestrings(geoms[lines][:, np.newaxis])
    return geoms


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
