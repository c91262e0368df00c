"""GEO rules on whole layers: duplicate vertices and spikes (GEO-003), slivers (GEO-004)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from cadastre.core import findings as fnd
from cadastre.qa.rules.base import CheckContext, rule, tolerance

POLYGON_LAYERS = ("ZDJBXX", "ZRZ", "H", "LD")


def _vertex_problems(geoms: np.ndarray, spike_tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Per geometry: the number of duplicate consecutive vertices and of spikes (a vertex the ring turns back at)."""
    n = len(geoms)
    dup_count, spike_count = np.zeros(n, int), np.zeros(n, int)
    # a polygon without holes is its own only ring: read its coordinates directly rather than make a ring object
    # per polygon (most units and parcels; the ring objects were most of the rule's time)
    plain = (shapely.get_type_id(geoms) == shapely.GeometryType.POLYGON) & (shapely.get_num_interior_rings(geoms) == 0)
    for subset, own_ring in ((np.flatnonzero(plain), True), (np.flatnonzero(~plain), False)):
        if not len(subset):
            continue
        if own_ring:
            rings, owner = geoms[subset], np.arange(len(subset))
        else:  # each part's rings (get_rings alone gives a multipolygon none: its vertices went unchecked)
            parts, part_owner = shapely.get_parts(geoms[subset], return_index=True)
            rings, part = shapely.get_rings(parts, return_index=True)
            owner = part_owner[part]
        coords, ring = shapely.get_coordinates(rings, return_index=True)
        same_ring = ring[1:] == ring[:-1]
        duplicate = same_ring & np.all(coords[1:] == coords[:-1], axis=1)
        # a spike: p[i-1] and p[i+1] coincide (within tolerance) while p[i] is elsewhere
        inner = (ring[2:] == ring[:-2]) & same_ring[1:]
        back = np.hypot(*(coords[2:] - coords[:-2]).T) < spike_tolerance
        away = np.hypot(*(coords[1:-1] - coords[:-2]).T) > spike_tolerance
        spike = inner & back & away
        dup_count[subset] += np.bincount(owner[ring[1:][duplicate]], minlength=len(subset))
        spike_count[subset] += np.bincount(owner[ring[1:-1][spike]], minlength=len(subset))
    return dup_count, spike_count


def _geo003(ctx: CheckContext, layer: str) -> pd.DataFrame:
    frame = ctx.layer(layer)
    geoms = ctx.geometries(layer)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    idx = np.flatnonzero(ok)
    duplicates, spikes = _vertex_problems(geoms[idx], tolerance(ctx.tolerances, "geometry.near_vertex_min"))
    hit = (duplicates > 0) | (spikes > 0)
    rows = idx[hit]
    features = frame["feature"].iloc[rows].to_numpy()
    messages = [
        f"{layer} {feature} 有" + "、".join(x for x in (f"{d} 个重复节点" if d else "", f"{s} 处尖刺" if s else "") if x)
        for feature, d, s in zip(features, duplicates[hit], spikes[hit], strict=True)
    ]
    return fnd.of_rule("GEO-003", layer, features, messages,
                       lonlat=ctx.lonlat(geoms[rows]), measured=duplicates[hit] + spikes[hit])


def _geo004(ctx: CheckContext, layer: str) -> pd.DataFrame:
    frame = ctx.layer(layer)
    geoms = ctx.geometries(layer)
    idx = np.flatnonzero(ctx.usable(layer))  # invalid shapes are GEO-001's
    area = shapely.area(geoms[idx])
    perimeter = shapely.length(geoms[idx])
    thinness = np.divide(area, perimeter ** 2, out=np.zeros_like(area), where=perimeter > 0)
    min_area = tolerance(ctx.tolerances, "geometry.sliver_min_area")
    limit = tolerance(ctx.tolerances, "geometry.sliver_thinness")
    small, thin = area < min_area, thinness < limit
    hit = small | thin
    rows = idx[hit]
    features = frame["feature"].iloc[rows].to_numpy()
    messages = [
        f"{layer} {feature} 疑似狭长碎面：" + (f"面积 {a:.3f} ㎡ 小于 {min_area} ㎡" if s else
                                         f"面积与周长平方之比 {t:.5f} 小于 {limit}")
        for feature, a, t, s in zip(features, area[hit], thinness[hit], small[hit], strict=True)
    ]
    return fnd.of_rule("GEO-004", layer, features, messages, lonlat=ctx.lonlat(geoms[rows]),
                       measured=np.where(small[hit], area[hit], thinness[hit]),
                       limit=np.where(small[hit], min_area, limit))


@rule("GEO-003", layers=(), tolerances=("geometry.near_vertex_min",))
def duplicate_vertices_and_spikes(ctx: CheckContext) -> pd.DataFrame:
    return fnd.concat([_geo003(ctx, layer) for layer in POLYGON_LAYERS if ctx.layer(layer) is not None and
                       ctx.layer(layer).geometry.notna().any()])


@rule("GEO-004", layers=(), tolerances=("geometry.sliver_min_area", "geometry.sliver_thinness"))
def slivers(ctx: CheckContext) -> pd.DataFrame:
    return fnd.concat([_geo004(ctx, layer) for layer in POLYGON_LAYERS if ctx.layer(layer) is not None and
                       ctx.layer(layer).geometry.notna().any()])
