"""TOP rules: overlaps, containment and boundary points, on whole layers.

Patterns (performance-notes.md): query the STRtree by bounding box in bulk and run the exact predicate on the
candidate pairs as arrays; drop pairs whose boxes only touch before any exact work (units sharing a wall); put each
floor's units far apart so one tree covers every floor; match vertices to points with a KD-tree.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from cadastre.core import findings as fnd
from cadastre.core.geometry import UNDERGROUND
from cadastre.qa.rules.base import CheckContext, rule, tolerance
from cadastre.read.structure import occupied_floors


def _box_stand_ins(bounds: np.ndarray) -> np.ndarray:
    """Geometries whose envelopes are the given (n, 4) boxes, for an STRtree that only compares envelopes: each
    box's diagonal (a two-point line is built about twice as fast as the box polygon)."""
    return shapely.linestrings(bounds.reshape(-1, 2, 2))


def _overlapping_pairs(geoms: np.ndarray, minimum_area: float, groups: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i < j) of valid geometries whose interiors overlap by more than ``minimum_area``; with ``groups``,
    only pairs within the same group. Returns (i, j, overlap area, overlap geometry)."""
    empty = (np.empty(0, int), np.empty(0, int), np.empty(0), np.empty(0, dtype=object))
    if len(geoms) < 2:
        return empty
    bounds = shapely.bounds(geoms)
    if groups is None:
        tree = shapely.STRtree(geoms)
        left, right = tree.query(geoms)
    else:
        # every group's boxes moved far from the other groups' (a grid of steps wider than the whole layer): one
        # tree, no cross-group candidates, and no geometry is copied — the tree only sees boxes
        codes = pd.factorize(groups)[0]
        step = np.max(bounds[:, 2:] - bounds[:, :2].min(axis=0)) + 1.0
        shift = np.column_stack([codes % 1000, codes // 1000]) * step
        boxes = _box_stand_ins(bounds + np.hstack([shift, shift]))
        left, right = shapely.STRtree(boxes).query(boxes)
    keep = left < right
    left, right = left[keep], right[keep]
    wide = np.minimum(bounds[left, 2], bounds[right, 2]) - np.maximum(bounds[left, 0], bounds[right, 0])
    high = np.minimum(bounds[left, 3], bounds[right, 3]) - np.maximum(bounds[left, 1], bounds[right, 1])
    # two shapes overlap by no more than their boxes do: boxes that only touch (units sharing a wall, a few ulps
    # apart at projected coordinates of 10^7 m) need no exact intersection
    keep = (wide > 0) & (high > 0) & (wide * high > minimum_area)
    left, right = left[keep], right[keep]
    overlap = shapely.intersection(geoms[left], geoms[right])
    area = shapely.area(overlap)
    hit = area > minimum_area
    return left[hit], right[hit], area[hit], overlap[hit]


def _overlap_findings(ctx: CheckContext, rule_id: str, layer: str, what: str, groups=None,
                      minimum_area: float | None = None, rows: np.ndarray | None = None) -> pd.DataFrame:
    """Pairs of the layer's features overlapping within a group. ``rows``: the features to compare, a feature
    repeated once per group it belongs to (a unit over several floors), with ``groups`` aligned to them; each pair
    of features is reported once."""
    frame = ctx.layer(layer)
    rows = np.arange(len(frame)) if rows is None else np.asarray(rows)
    keep = ctx.usable(layer)[rows]
    idx = rows[keep]
    tol = tolerance(ctx.tolerances, "geometry.overlap_tolerance") if minimum_area is None else minimum_area
    i, j, area, overlap = _overlapping_pairs(ctx.geometries(layer)[idx], tol,
                                             None if groups is None else np.asarray(groups)[keep])
    a_row, b_row = idx[i], idx[j]
    pairs = pd.DataFrame({"a": np.minimum(a_row, b_row), "b": np.maximum(a_row, b_row)})
    once = (a_row != b_row) & ~pairs.duplicated().to_numpy(bool)
    a_row, b_row, area, overlap = a_row[once], b_row[once], area[once], overlap[once]
    features = frame["feature"].to_numpy()
    # buildings are named by 幢号 in messages, as surveyors and clerks say them
    names = frame["ZRZH"].fillna(frame["feature"]).to_numpy(object) if layer == "ZRZ" else features
    messages = [f"{what} {x} 与 {y} 重叠 {s:.2f} ㎡" for x, y, s in
                zip(names[a_row], names[b_row], area, strict=True)]
    return fnd.of_rule(rule_id, layer, features[a_row], messages, lonlat=ctx.lonlat(shapely.point_on_surface(overlap)),
                       measured=area, limit=tol, figures=[{"other": y} for y in features[b_row]])


@rule("TOP-001", layers=("ZDJBXX",), stages=("cadastral", "baseline"), tolerances=("geometry.overlap_tolerance",))
def parcels_overlap(ctx: CheckContext) -> pd.DataFrame:
    level = ctx.layer("ZDJBXX")["QLSDFS"].fillna("2").to_numpy(dtype=object)  # 地表 unless stated
    return _overlap_findings(ctx, "TOP-001", "ZDJBXX", "宗地", groups=level)


@rule("TOP-009", layers=("ZRZ",), stages=("presale", "asbuilt", "baseline"), tolerances=("geometry.overlap_tolerance",))
def buildings_overlap(ctx: CheckContext) -> pd.DataFrame:
    """Buildings of the package overlapping each other — an underground-only building (a 地下车库 under or between
    towers) is compared with the other underground-only ones only."""
    level = np.where(ctx.structure.underground_only, "below", "above").astype(object)
    return _overlap_findings(ctx, "TOP-009", "ZRZ", "幢", groups=level)


@rule("TOP-005", layers=("H",), stages=("presale", "asbuilt", "baseline"), tolerances=("geometry.overlap_tolerance",))
def units_overlap(ctx: CheckContext) -> pd.DataFrame:
    """Units of one building overlapping on a floor they both occupy."""
    units = ctx.layer("H")
    if units.geometry.isna().all():
        return fnd.concat([])
    # compared floor by floor: a unit over several floors (跃层) with the units of each floor it occupies
    s = ctx.structure
    row, floor = occupied_floors(s.unit_low, s.unit_high)
    building = pd.factorize(s.unit_building_keys[row])[0]
    floor = floor.astype(np.int64)
    floor -= floor.min(initial=0)  # from 0 up: one integer per (building, floor)
    group = building * (floor.max(initial=0) + 1) + floor
    return _overlap_findings(ctx, "TOP-005", "H", "户", groups=group, rows=row)


def _outside(parts: np.ndarray, containers: np.ndarray, tol: float, buffered: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For aligned arrays: (outside?, area outside, farthest distance outside) of each part from its container.
    ``buffered``: the containers grown by ``tol`` and prepared, when the caller has them (one per container, not
    one per part)."""
    if buffered is None:
        buffered = shapely.buffer(containers, tol, quad_segs=2)
        shapely.prepare(buffered)
    covered = shapely.covers(buffered, parts)
    out = np.flatnonzero(~covered)
    area = np.zeros(len(parts))
    distance = np.zeros(len(parts))
    if len(out):
        area[out] = shapely.area(shapely.difference(parts[out], containers[out]))
        coords, owner = shapely.get_coordinates(parts[out], return_index=True)
        d = shapely.distance(shapely.points(coords), containers[out][owner])
        np.maximum.at(distance, out[owner], d)
    outside = ~covered & ((area > tol) | (distance > tol))
    return outside, area, distance


@rule("TOP-003", layers=("ZRZ",), stages=("presale", "asbuilt"), tolerances=("geometry.vertex_tolerance",),
      uses_registry=True)
def building_within_parcel(ctx: CheckContext):
    parcels = _project_parcels(ctx)
    if parcels is None:
        if ctx.registry is not None:  # against a registry the parcel must exist: nothing can be coded without it
            code = ctx.package.manifest.parcel_code
            message = (f"manifest 中的宗地代码 {code} 在登记库中不是现势宗地" if code else
                       "登记库中没有包含这些自然幢的现势宗地，请先完成权籍调查入库或在 manifest 中填写 parcel_code")
            return fnd.of_rule("PKG-009", "ZRZ", [code], [message]), None
        return fnd.concat([]), "未找到自然幢所在的宗地（manifest 未给出 parcel_code，登记库中也没有包含自然幢的宗地）"
    buildings = ctx.layer("ZRZ")
    ok = ctx.usable("ZRZ")
    geoms = ctx.geometries("ZRZ")
    # each building's parcel: the one the registry coded it under (its own ZDDM, else where it stands), else by
    # its own ZDDM, else the package's parcel; a building wholly below ground may also extend into the project's
    # underground parcels (权利设定方式 地下)
    geoms_of = np.asarray(parcels.geometry.values, dtype=object)
    by_code = dict(zip(parcels["zddm"], geoms_of, strict=True))
    default = geoms_of[0]
    named = buildings["ZDDM"].to_numpy(object)
    if ctx.registry is not None and ctx.registry.building_parcel is not None:
        named = np.where(pd.notna(ctx.registry.building_parcel), ctx.registry.building_parcel, named)
    target = np.array([by_code.get(code, default) if isinstance(code, str) else default for code in named],
                      dtype=object)
    level = parcels["qlsdfs"].to_numpy(object) if "qlsdfs" in parcels else np.full(len(parcels), None, object)
    below = geoms_of[level == UNDERGROUND]
    garages = np.flatnonzero(ctx.structure.underground_only)
    if len(below) and len(garages):
        target[garages] = [shapely.union_all([t, *below]) for t in target[garages]]
    idx = np.flatnonzero(ok)
    tol = tolerance(ctx.tolerances, "geometry.vertex_tolerance")
    outside, area, distance = _outside(geoms[idx], target[idx], tol)
    rows = idx[outside]
    features = buildings["feature"].to_numpy()[rows]
    zrzh = buildings["ZRZH"].to_numpy(object)[rows]
    messages = [f"幢 {z if isinstance(z, str) else f} 超出宗地边界 {a:.2f} ㎡（最远 {d:.2f} m）"
                for f, z, a, d in zip(features, zrzh, area[outside], distance[outside], strict=True)]
    return fnd.of_rule("TOP-003", "ZRZ", features, messages,
                       lonlat=ctx.lonlat(shapely.difference(geoms[rows], target[rows])),
                       measured=area[outside], limit=tol), None


def _project_parcels(ctx: CheckContext):
    """The parcels a pre-sale / as-built package stands on: from the registry, else the package's own ZDJBXX."""
    if ctx.registry is not None and ctx.registry.project_parcel is not None and len(ctx.registry.project_parcel):
        return ctx.registry.project_parcel
    own = ctx.layer("ZDJBXX")
    if own is not None and own.geometry.notna().any():
        frame = own[own.geometry.notna()]
        return gpd.GeoDataFrame({"zddm": frame["ZDDM"].to_numpy(object), "qlsdfs": frame["QLSDFS"].to_numpy(object)},
                                geometry=frame.geometry.values, crs=frame.crs)
    return None


def _kdtree(points: np.ndarray) -> cKDTree:
    """A KD-tree split at midpoints rather than medians, its boxes not shrunk to the data: built in a third of the
    time (the county's 700 000 parcel vertices: 0.17–0.21 → 0.07 s), and the radius queries the rules ask as fast."""
    return cKDTree(points, balanced_tree=False, compact_nodes=False)


def _parcel_vertices(ctx: CheckContext):
    """The usable parcels' rows, boundaries, boundary vertices with the boundary each is on, and the vertices'
    KD-tree (None without vertices): shared by TOP-006 and TOP-008."""
    def make():
        idx = np.flatnonzero(ctx.usable("ZDJBXX"))
        boundaries = shapely.boundary(ctx.geometries("ZDJBXX")[idx])
        vertices, owner = shapely.get_coordinates(boundaries, return_index=True)
        return idx, boundaries, vertices, owner, _kdtree(vertices) if len(vertices) else None

    return ctx.shared("parcel vertices", make)


@rule("TOP-004", layers=("ZRZ", "H"), stages=("presale", "asbuilt", "baseline"), tolerances=("geometry.vertex_tolerance",))
def unit_within_building(ctx: CheckContext) -> pd.DataFrame:
    units = ctx.layer("H")
    if units.geometry.isna().all():
        return fnd.concat([])
    tol = tolerance(ctx.tolerances, "geometry.vertex_tolerance")
    footprints = ctx.geometries("ZRZ")
    usable = ctx.usable("ZRZ")
    grown = np.full(len(footprints), None, dtype=object)
    grown[usable] = shapely.buffer(footprints[usable], tol, quad_segs=2)  # once per building
    shapely.prepare(grown[usable])
    which = ctx.structure.unit_building
    known = which >= 0
    which = np.where(known, which, 0).astype(int)
    ok = ctx.usable("H") & known & usable[which]
    idx = np.flatnonzero(ok)
    target = footprints[which]
    outside, area, distance = _outside(ctx.geometries("H")[idx], target[idx], tol, grown[which][idx])
    rows = idx[outside]
    features = units["feature"].to_numpy()[rows]
    messages = [f"户 {f} 超出所在自然幢 {z} 的基底 {a:.2f} ㎡（最远 {d:.2f} m）" for f, z, a, d in
                zip(features, units["ZRZH"].to_numpy(object)[rows], area[outside], distance[outside], strict=True)]
    return fnd.of_rule("TOP-004", "H", features, messages, lonlat=ctx.lonlat(ctx.geometries("H")[rows]),
                       measured=area[outside], limit=tol)


@rule("TOP-006", layers=("ZDJBXX", "JZD"), stages=("cadastral",), tolerances=("geometry.vertex_tolerance",))
def boundary_points(ctx: CheckContext) -> pd.DataFrame:
    parcels, points = ctx.layer("ZDJBXX"), ctx.layer("JZD")
    tol = tolerance(ctx.tolerances, "geometry.vertex_tolerance")
    idx, boundaries, vertices, owner, vertex_tree = _parcel_vertices(ctx)
    point_ok = ~(shapely.is_missing(ctx.geometries("JZD")) | shapely.is_empty(ctx.geometries("JZD")))
    pidx = np.flatnonzero(point_ok)
    xy = shapely.get_coordinates(ctx.geometries("JZD")[pidx])
    parts = []
    if len(xy):
        distance, _ = _kdtree(xy).query(vertices, distance_upper_bound=tol)
        lonely = ~np.isfinite(distance)
    else:
        lonely = np.ones(len(vertices), bool)
    if lonely.any():
        # one finding per parcel, with its first unmatched vertex as the location
        bad_owner, first = np.unique(owner[lonely], return_index=True)
        counts = np.bincount(owner[lonely])[bad_owner]
        features = parcels["feature"].to_numpy()[idx[bad_owner]]
        where = vertices[lonely][first]
        messages = [f"宗地 {f} 有 {n} 个拐点附近 {tol} m 内没有界址点" for f, n in zip(features, counts, strict=True)]
        parts.append(fnd.of_rule("TOP-006", "ZDJBXX", features, messages, lonlat=fnd.lonlat(where, ctx.crs),
                                 measured=counts, limit=0))
    if len(pidx):
        on_vertex = np.isfinite(vertex_tree.query(xy, distance_upper_bound=tol)[0]) if len(vertices) else \
            np.zeros(len(xy), bool)
        rest = np.flatnonzero(~on_vertex)
        if len(rest):  # not at a vertex: is it on an edge?
            tree = shapely.STRtree(boundaries)
            hits, _ = tree.query(shapely.points(xy[rest]), predicate="dwithin", distance=tol)
            stray = np.setdiff1d(np.arange(len(rest)), hits)
            rows = pidx[rest[stray]]
            features = points["feature"].to_numpy()[rows]
            parts.append(fnd.of_rule("TOP-006", "JZD", features,
                                     [f"界址点 {f} 不在任何宗地边界上（{tol} m 内）" for f in features],
                                     lonlat=ctx.lonlat(ctx.geometries("JZD")[rows])))
    return fnd.concat(parts)


@rule("TOP-008", layers=("ZDJBXX",), stages=("cadastral",),
      tolerances=("geometry.near_vertex_min", "geometry.vertex_tolerance", "geometry.gap_max"))
def near_misses(ctx: CheckContext) -> pd.DataFrame:
    parcels = ctx.layer("ZDJBXX")
    idx, _, vertices, owner, vertex_tree = _parcel_vertices(ctx)
    geoms = ctx.geometries("ZDJBXX")[idx]
    low, high = tolerance(ctx.tolerances, "geometry.near_vertex_min"), tolerance(ctx.tolerances, "geometry.vertex_tolerance")
    gap_max = tolerance(ctx.tolerances, "geometry.gap_max")
    features = parcels["feature"].to_numpy()[idx]
    parts = []
    if len(vertices) > 1:
        pairs = vertex_tree.query_pairs(high, output_type="ndarray")
        if len(pairs):
            a, b = pairs[:, 0], pairs[:, 1]
            d = np.linalg.norm(vertices[a] - vertices[b], axis=1)
            hit = (owner[a] != owner[b]) & (d > low)
            a, b, d = a[hit], b[hit], d[hit]
            # one finding per pair of parcels
            key = np.minimum(owner[a], owner[b]) * len(idx) + np.maximum(owner[a], owner[b])
            _, first = np.unique(key, return_index=True)
            a, b, d = a[first], b[first], d[first]
            parts.append(fnd.of_rule(
                "TOP-008", "ZDJBXX", features[owner[a]],
                [f"宗地 {x} 与 {y} 的拐点相距 {dd * 1000:.1f} mm，应重合" for x, y, dd in
                 zip(features[owner[a]], features[owner[b]], d, strict=True)],
                lonlat=fnd.lonlat(vertices[a], ctx.crs), measured=d, limit=low))
    # candidates by box grown by the gap (a distance per pair once, not the tree's dwithin on both orders)
    grown = shapely.bounds(geoms) + np.array([-gap_max, -gap_max, gap_max, gap_max])
    left, right = shapely.STRtree(geoms).query(_box_stand_ins(grown))
    keep = left < right
    left, right = left[keep], right[keep]
    distance = shapely.distance(geoms[left], geoms[right])
    gap = (distance > 0) & (distance < gap_max)
    left, right, distance = left[gap], right[gap], distance[gap]
    between = shapely.shortest_line(geoms[left], geoms[right])
    parts.append(fnd.of_rule(
        "TOP-008", "ZDJBXX", features[left],
        [f"宗地 {x} 与 {y} 之间有 {dd:.3f} m 的窄缝" for x, y, dd in
         zip(features[left], features[right], distance, strict=True)],
        lonlat=ctx.lonlat(shapely.centroid(between)), measured=distance, limit=gap_max))
    return fnd.concat(parts)


@rule("TOP-002", layers=("ZDJBXX",), stages=("cadastral",), tolerances=("geometry.overlap_tolerance",),
      needs_registry=True)
def overlaps_registered_parcels(ctx: CheckContext) -> pd.DataFrame:
    registered = ctx.registry.parcels
    parcels = ctx.layer("ZDJBXX")
    if registered is None or not len(registered):
        return fnd.concat([])
    tol = tolerance(ctx.tolerances, "geometry.overlap_tolerance")
    idx = np.flatnonzero(ctx.usable("ZDJBXX"))
    geoms = ctx.geometries("ZDJBXX")[idx]
    theirs = np.asarray(registered.geometry.values, dtype=object)
    tree = shapely.STRtree(theirs)
    left, right = tree.query(geoms, predicate="intersects")
    # a parcel that names a registered parcel (a re-survey of it) replaces that one; parcels at different levels
    # (an underground parcel under surface ones: 权利设定方式) do not compete for the same space
    own_codes = parcels["ZDDM"].to_numpy(object)[idx][left]
    their_codes = registered["zddm"].to_numpy(object)[right]
    own_level = parcels["QLSDFS"].fillna("2").to_numpy(object)[idx][left]
    their_level = (registered["qlsdfs"].fillna("2").to_numpy(object)[right] if "qlsdfs" in registered
                   else np.full(len(right), "2", dtype=object))
    keep = (own_codes != their_codes) & (own_level == their_level)
    left, right = left[keep], right[keep]
    overlap = shapely.intersection(geoms[left], theirs[right])
    area = shapely.area(overlap)
    hit = area > tol
    left, right, area, overlap = left[hit], right[hit], area[hit], overlap[hit]
    features = parcels["feature"].to_numpy()[idx][left]
    codes = registered["zddm"].to_numpy(object)[right]
    return fnd.of_rule("TOP-002", "ZDJBXX", features,
                       [f"宗地 {f} 与已登记的现势宗地 {c} 重叠 {a:.2f} ㎡" for f, c, a in
                        zip(features, codes, area, strict=True)],
                       lonlat=ctx.lonlat(shapely.point_on_surface(overlap)), measured=area, limit=tol,
                       figures=[{"registered": c} for c in codes])


@rule("TOP-007", layers=("ZDJBXX",), stages=("cadastral",), tolerances=("geometry.overlap_tolerance",),
      needs_registry=True)
def within_subdistrict(ctx: CheckContext):
    zones = ctx.registry.subdistricts
    if zones is None or not len(zones):
        return fnd.concat([]), "登记库中尚无地籍区划，无法检查宗地是否跨越地籍子区"
    parcels = ctx.layer("ZDJBXX")
    tol = tolerance(ctx.tolerances, "geometry.overlap_tolerance")
    idx = np.flatnonzero(ctx.usable("ZDJBXX"))
    geoms = ctx.geometries("ZDJBXX")[idx]
    zone_geoms = np.asarray(zones.geometry.values, dtype=object)
    left, right = shapely.STRtree(zone_geoms).query(geoms, predicate="intersects")
    area = shapely.area(shapely.intersection(geoms[left], zone_geoms[right]))
    real = area > tol
    left, right, area = left[real], right[real], area[real]
    zones_per_parcel = np.bincount(left, minlength=len(idx))
    inside = np.bincount(left, weights=area, minlength=len(idx))
    outside = shapely.area(geoms) - inside
    features = parcels["feature"].to_numpy()[idx]
    codes = zones["djzqdm"].to_numpy(object)
    crossing = np.flatnonzero(zones_per_parcel > 1)
    names = {i: "、".join(sorted(codes[right[left == i]])) for i in crossing}
    parts = [fnd.of_rule("TOP-007", "ZDJBXX", features[crossing],
                         [f"宗地 {features[i]} 跨越地籍子区 {names[i]} 的边界" for i in crossing],
                         lonlat=ctx.lonlat(geoms[crossing]), measured=zones_per_parcel[crossing], limit=1)]
    out = np.flatnonzero(outside > tol)
    parts.append(fnd.of_rule("TOP-007", "ZDJBXX", features[out],
                             [f"宗地 {features[i]} 有 {outside[i]:.2f} ㎡ 位于本县地籍区划之外" for i in out],
                             lonlat=ctx.lonlat(shapely.difference(geoms[out], shapely.union_all(zone_geoms))),
                             measured=outside[out], limit=tol))
    return fnd.concat(parts), None
