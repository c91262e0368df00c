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
    rings, owner = shapely.get_rings(geoms, return_index=True)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same_ring = ring[1:] == ring[:-1]
    duplicate = same_ring & np.all(coords[1:] == coords[:-1], axis=1)
    # a spike: p[i-1] and p[i+1] coincide (within tolerance) while p[i] is elsewhere
    inner = (ring[2:] == ring[:-2]) & same_ring[1:]
    back = np.linalg.norm(coords[2:] - coords[:-2], axis=1) < spike_tolerance
    away = np.linalg.norm(coords[1:-1] - coords[:-2], axis=1) > spike_tolerance
    spike = inner & back & away
    n = len(geoms)
    dup_count = np.bincount(owner[ring[1:][duplicate]], minlength=n) if duplicate.any() else np.zeros(n, int)
    spike_count = np.bincount(owner[ring[1:-1][spike]], minlength=n) if spike.any() else np.zeros(n, int)
    return dup_count, spike_count


def _geo003(ctx: CheckContext, layer: str) -> pd.DataFrame:
    frame = ctx.layer(layer)
    geoms = ctx.geometries(layer)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    idx = np.flatnonzero(ok)
    duplicates, spikes = _vertex_problems(geoms[idx], tolerance(ctx.tolerances, "geometry.near_vertex_min"))
    hit = (duplicates > 0) | (spikes > 0)
    rows = idx[hit]
    messages = [
        f"{layer} {feature} 有" + "、".join(x for x in (f"{d} 个重复节点" if d else "", f"{s} 处尖刺" if s else "") if x)
        for feature, d, s in zip(frame["feature"].to_numpy()[rows], duplicates[hit], spikes[hit], strict=True)
    ]
    return fnd.of_rule("GEO-003", layer, frame["feature"].to_numpy()[rows], messages,
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
    messages = [
        f"{layer} {feature} 疑似狭长碎面：" + (f"面积 {a:.3f} ㎡ 小于 {min_area} ㎡" if s else
                                         f"面积与周长平方之比 {t:.5f} 小于 {limit}")
        for feature, a, t, s in zip(frame["feature"].to_numpy()[rows], area[hit], thinness[hit], small[hit],
                                    strict=True)
    ]
    return fnd.of_rule("GEO-004", layer, frame["feature"].to_numpy()[rows], messages, lonlat=ctx.lonlat(geoms[rows]),
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
