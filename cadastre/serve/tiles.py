"""Vector tiles (Mapbox Vector Tile 2.1) of the registry's current parcels, buildings and zoning.

Tiles follow the XYZ Web Mercator grid the map uses. Which rows a layer shows, from which zoom, and with which
properties is declared here once (:data:`TILE_LAYERS`) for both engines, and the rows of a tile are encoded by
:func:`encode_tile` (transform, clip and quantise vectorised with shapely, the integers encoded by
:mod:`cadastre.serve.mvt`) on both: PostGIS's own ``ST_AsMVT`` took 67 ms at p95 for the county's busiest zoom-15
tiles where this takes 22 ms (read included; ``bench/http.py`` measures it as the tiles' baseline), and one
encoder means one output for both engines. Below a layer's ``minzoom`` a tile has nothing of it: at county
scale (10^5 parcels) a low-zoom tile would otherwise carry every parcel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from cadastre.core.errors import InputError, NotFoundError
from cadastre.core.geometry import transformer
from cadastre.serve.mvt import encode_layers

__all__ = ["TileLayer", "TILE_LAYERS", "MAX_ZOOM", "tile_bounds_3857", "tile_bounds", "encode_tile"]

MAX_ZOOM = 22
HALF_WORLD = 20037508.342789244  # Web Mercator half extent, m


@dataclass(frozen=True)
class TileLayer:
    name: str
    title: str
    table: str
    minzoom: int
    #: SQL expression (over alias ``t``) → property name
    properties: dict[str, str] = field(default_factory=dict)
    extent: int = 4096
    buffer: int = 64


TILE_LAYERS: dict[str, TileLayer] = {layer.name: layer for layer in (
    TileLayer("districts", "地籍区", "cadastral_district", 0, {"t.djqdm": "djqdm", "t.djqmc": "djqmc"}),
    TileLayer("subdistricts", "地籍子区", "cadastral_subdistrict", 8, {"t.djzqdm": "djzqdm", "t.djzqmc": "djzqmc"}),
    TileLayer("parcels", "宗地", "parcel", 15, {"t.zddm": "zddm", "t.yt": "yt"}),
    TileLayer("buildings", "自然幢", "building", 15,
              {"t.zddm || 'F' || t.zrzh": "code", "t.zddm": "zddm", "t.zrzh": "zrzh", "t.jzwmc": "jzwmc",
               "t.stage": "stage", "t.zcs": "zcs"}),
)}


def tile_layer(name: str) -> TileLayer:
    try:
        return TILE_LAYERS[name]
    except KeyError:
        raise NotFoundError(f"没有图层 {name}：可用 {', '.join(TILE_LAYERS)}", f"no tile layer {name}") from None


def check_tile(z: int, x: int, y: int) -> None:
    if not 0 <= z <= MAX_ZOOM:
        raise InputError(f"缩放级别 {z} 超出范围 0–{MAX_ZOOM}", f"zoom {z} out of range")
    if not (0 <= x < 2 ** z and 0 <= y < 2 ** z):
        raise InputError(f"瓦片 {z}/{x}/{y} 不存在", f"tile {z}/{x}/{y} out of range")


def tile_bounds_3857(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of an XYZ tile in Web Mercator metres.

    >>> tile_bounds_3857(0, 0, 0) == (-HALF_WORLD, -HALF_WORLD, HALF_WORLD, HALF_WORLD)
    True
    """
    size = 2 * HALF_WORLD / 2 ** z
    return (-HALF_WORLD + x * size, HALF_WORLD - (y + 1) * size, -HALF_WORLD + (x + 1) * size, HALF_WORLD - y * size)


def tile_bounds(z: int, x: int, y: int, srid: int, *, margin: float = 64 / 4096):
    """The tile (grown by ``margin`` of its size, for the buffer) as a bbox in the storage CRS."""
    minx, miny, maxx, maxy = tile_bounds_3857(z, x, y)
    pad = (maxx - minx) * margin
    return transformer(3857, srid).transform_bounds(minx - pad, miny - pad, maxx + pad, maxy + pad, densify_pts=11)


def encode_tile(frames: dict[str, gpd.GeoDataFrame], z: int, x: int, y: int) -> bytes:
    """Encode layers (GeoDataFrames with ``fid``, properties and geometry in any CRS) as one MVT tile: transformed
    to tile pixels and clipped to the tile and its buffer with shapely, encoded by :mod:`cadastre.serve.mvt`."""
    bounds = tile_bounds_3857(z, x, y)
    layers = []
    for name, frame in frames.items():
        if frame is None or frame.empty:
            continue
        layer = TILE_LAYERS[name]
        to_web = transformer(int(frame.crs.to_epsg()), 3857)
        scale = layer.extent / (bounds[2] - bounds[0])

        def to_pixels(xy: np.ndarray, t=to_web, scale=scale) -> np.ndarray:  # tile pixels, y down
            x, y = t.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([(x - bounds[0]) * scale, (bounds[3] - y) * scale])

        pad = layer.buffer
        clipped = shapely.clip_by_rect(shapely.transform(frame.geometry.to_numpy(), to_pixels),
                                       -pad, -pad, layer.extent + pad, layer.extent + pad)
        keep = ~shapely.is_empty(clipped)
        if not keep.any():
            continue
        properties = {column: frame[column].to_numpy(object)[keep]
                      for column in frame.columns if column not in ("fid", frame.geometry.name)}
        layers.append((name, frame["fid"].to_numpy()[keep], clipped[keep], properties))
    return encode_layers(layers)
