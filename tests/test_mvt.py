"""The vectorised MVT encoder, read back by an independent decoder (``mapbox-vector-tile``)."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from cadastre.serve.mvt import encode_layers, varints


def _decode(tile: bytes) -> dict:
    return mapbox_vector_tile.decode(tile, default_options={"y_coord_down": True})


def _signed_areas(geometry) -> list[float]:
    """Signed area (surveyor's formula, as the MVT specification computes it) of every ring, outer first."""
    polygons = geometry.geoms if geometry.geom_type == "MultiPolygon" else [geometry]
    return [shapely.Polygon(ring).area * (1 if shapely.LinearRing(ring).is_ccw else -1)
            for polygon in polygons for ring in (polygon.exterior, *polygon.interiors)]


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 16_383, 16_384, 2**31 - 1, 2**32, 2**63 - 1])
def test_varints_match_protobuf(value):
    from google.protobuf.internal.encoder import _VarintBytes

    assert varints(np.array([value], dtype=np.uint64)) == _VarintBytes(value)


def test_polygons_with_holes_and_multipolygons_round_trip_with_properties():
    square = shapely.Polygon([(10, 10), (100, 10), (100, 100), (10, 100)], [[(20, 20), (20, 50), (50, 50), (50, 20)]])
    pair = shapely.MultiPolygon([shapely.box(200, 200, 300, 300), shapely.box(400, 400, 500, 500)])
    tile = encode_layers([("parcels", np.array([7, 8]), [square, pair],
                           {"zddm": ["141031001002GB00001", "141031001002GB00002"], "yt": ["0701", None],
                            "zcs": [3, 18], "area": [812.5, 90.25], "current": [True, False]})])
    layer = _decode(tile)["parcels"]
    assert layer["extent"] == 4096 and layer["version"] == 2
    first, second = layer["features"]
    assert (first["id"], second["id"]) == (7, 8)
    assert first["properties"] == {"zddm": "141031001002GB00001", "yt": "0701", "zcs": 3, "area": 812.5,
                                   "current": True}
    assert second["properties"] == {"zddm": "141031001002GB00002", "zcs": 18, "area": 90.25, "current": False}
    one, two = shapely.geometry.shape(first["geometry"]), shapely.geometry.shape(second["geometry"])
    assert one.equals(square) and two.equals(pair)
    # outer rings positive, holes negative in tile coordinates
    assert [a > 0 for a in _signed_areas(one)] == [True, False]
    assert all(a > 0 for a in _signed_areas(two))


def test_rings_are_rewound_rounded_and_collapsed_features_left_out():
    clockwise_in_math = shapely.Polygon([(0, 0), (0, 40.4), (40.2, 40.4), (40.2, 0)])  # wound the other way
    tiny = shapely.box(5.1, 5.1, 5.3, 5.3)  # rounds to a point
    repeated = shapely.Polygon([(0, 0), (0.2, 0), (30, 0), (30, 30), (0, 30), (0.1, 0.1)])  # repeats after rounding
    tile = encode_layers([("parcels", np.array([1, 2, 3]), [clockwise_in_math, tiny, repeated], {"n": ["a", "b", "c"]})])
    features = _decode(tile)["parcels"]["features"]
    assert [f["id"] for f in features] == [1, 3]
    first = shapely.geometry.shape(features[0]["geometry"])
    assert first.equals(shapely.box(0, 0, 40, 40)) and _signed_areas(first)[0] > 0
    assert shapely.geometry.shape(features[1]["geometry"]).equals(shapely.box(0, 0, 30, 30))
    assert encode_layers([("parcels", np.array([2]), [tiny], {})]) == b""  # a layer left empty is not written


def test_what_a_clip_leaves_behind_is_kept_only_as_polygons():
    clipped = shapely.GeometryCollection([shapely.box(0, 0, 10, 10), shapely.LineString([(20, 20), (30, 30)]),
                                          shapely.MultiPolygon([shapely.box(40, 40, 50, 50)])])
    features = _decode(encode_layers([("l", np.array([5]), [clipped], {})]))["l"]["features"]
    assert shapely.geometry.shape(features[0]["geometry"]).equals(
        shapely.MultiPolygon([shapely.box(0, 0, 10, 10), shapely.box(40, 40, 50, 50)]))


def test_several_layers_in_one_tile():
    tile = encode_layers([("parcels", np.array([1]), [shapely.box(0, 0, 100, 100)], {"zddm": ["A"]}),
                          ("buildings", np.array([2]), [shapely.box(10, 10, 20, 20)], {"code": ["AF0001"]})])
    decoded = _decode(tile)
    assert set(decoded) == {"parcels", "buildings"}
    assert decoded["buildings"]["features"][0]["properties"] == {"code": "AF0001"}


boxes = st.tuples(st.integers(-64, 4000), st.integers(-64, 4000), st.integers(3, 400), st.integers(3, 400))


@settings(max_examples=60, deadline=None)
@given(st.lists(boxes, min_size=1, max_size=40), st.integers(0, 3))
def test_any_set_of_polygons_decodes_to_the_same_shapes(specs, holes):
    """Boxes (some with a hole), as pixels: every one comes back equal, in order, with its id and property."""
    geoms = []
    for i, (x, y, w, h) in enumerate(specs):
        box = shapely.box(x, y, x + w, y + h)
        if i % 4 < holes and w > 8 and h > 8:
            box = box.difference(shapely.box(x + 2, y + 2, x + w - 2, y + h - 2))
        geoms.append(shapely.set_precision(box, 1))
    ids = np.arange(100, 100 + len(geoms))
    features = _decode(encode_layers([("l", ids, geoms, {"i": [str(i) for i in ids]})]))["l"]["features"]
    assert [f["id"] for f in features] == list(ids)
    for feature, geom in zip(features, geoms, strict=True):
        assert feature["properties"] == {"i": str(feature["id"])}
        assert shapely.geometry.shape(feature["geometry"]).normalize().equals_exact(geom.normalize(), 0)
