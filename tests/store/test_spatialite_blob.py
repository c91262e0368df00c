"""SpatiaLite's geometry blobs written in bulk are the very bytes SpatiaLite's ``GeomFromWKB`` makes, and shapes
they do not cover are left to it."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from cadastre.store.engine import create_engine
from cadastre.store.spatial import to_wkb
from cadastre.store.spatialite_blob import blobs

SRID = 4525


def _geometries() -> np.ndarray:
    square = shapely.box(37_480_000.0, 4_060_000.0, 37_480_010.5, 4_060_008.25)
    circle = shapely.Point(37_480_100.123, 4_060_000.77).buffer(7.3)  # 65 points
    holed = shapely.Polygon(square.exterior.coords, [[(37_480_001, 4_060_001), (37_480_002, 4_060_001),
                                                      (37_480_002, 4_060_002)]])
    return np.array([
        square, circle, shapely.Point(-1.5, 2.25), shapely.LineString([(0, 0), (1, 1), (2, 5)]),
        shapely.Polygon([(0, 0, 5), (1, 0, 5), (1, 1, 5)]),  # Z dropped, as the WKB written is 2D
        square.reverse(), None, shapely.Polygon(), shapely.MultiPolygon([square, shapely.box(0, 0, 1, 1)]),
        shapely.multipolygons([circle]), shapely.multilinestrings([shapely.LineString([(3, 4), (5, 6)])]),
        holed, shapely.multipolygons([holed]), square], dtype=object)


#: the rows left to GeomFromWKB: missing, empty, several parts, a hole
LEFT = [6, 7, 8, 11, 12]


@pytest.mark.parametrize("multi", [True, False])
def test_blobs_are_the_bytes_spatialite_makes_of_the_wkb(tmp_path, multi):
    geoms = _geometries()
    ours = blobs(geoms, SRID, multi=multi)
    assert [k for k, b in enumerate(ours) if b is None] == LEFT
    engine = create_engine(f"sqlite:///{tmp_path / 'b.sqlite'}")
    with engine.connect() as c:
        for k, wkb in enumerate(to_wkb(geoms, multi=multi)):
            if k not in LEFT:
                made = c.exec_driver_sql("SELECT GeomFromWKB(?, ?)", (wkb, SRID)).scalar()
                assert ours[k] == made, k
        # and SpatiaLite reads them as the geometries they came from
        for k in (0, 1, 9):
            area, srid = c.exec_driver_sql("SELECT ST_Area(?), ST_SRID(?)", (ours[k], ours[k])).one()
            assert area == pytest.approx(geoms[k].area) and srid == SRID
    engine.dispose()


def test_bounds_given_make_the_same_blobs_and_nothing_writable_makes_none():
    geoms = shapely.box(np.arange(5.0), 0, np.arange(5.0) + 1, 1)
    assert blobs(geoms, SRID, multi=True, bounds=shapely.bounds(geoms)).tolist() == \
        blobs(geoms, SRID, multi=True).tolist()
    assert blobs(np.array([None, shapely.Polygon()], dtype=object), SRID, multi=True).tolist() == [None, None]
