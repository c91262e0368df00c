"""Small vectorised geometry helpers shared by readers, checks and the store (shapely 2 array functions)."""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["as_multipolygons", "as_multi"]


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
